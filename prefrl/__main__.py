from prefrl.cli import main

raise SystemExit(main())
