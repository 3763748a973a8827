from prunetui.cli import main

raise SystemExit(main())
