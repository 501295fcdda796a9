from civdesk.cli import main

main()
