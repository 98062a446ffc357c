from zorgbroker.cli import main

main()
