from scanflow.cli import main

main()
