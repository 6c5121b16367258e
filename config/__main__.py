"""`python -m config --reset ENV`: see `config.topology.main`."""

from config.topology import main

raise SystemExit(main())
