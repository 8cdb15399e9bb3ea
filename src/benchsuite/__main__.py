from benchsuite.cli.main import main

main()
