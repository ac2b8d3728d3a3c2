#!/usr/bin/env python
from malote.cli import main

if __name__ == "__main__":
    main()
