from nami_action.cli import main

main()
