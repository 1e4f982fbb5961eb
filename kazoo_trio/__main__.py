from kazoo_trio.cli import main

raise SystemExit(main())
