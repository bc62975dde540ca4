import sys

from remedy.cli import main

sys.exit(main())
