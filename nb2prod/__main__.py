import sys

from nb2prod.frontends.cli import main

sys.exit(main())
