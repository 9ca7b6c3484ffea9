import sys

from medviz.cli import main

sys.exit(main())
