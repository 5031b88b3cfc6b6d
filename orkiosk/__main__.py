from orkiosk.cli import main

raise SystemExit(main())
