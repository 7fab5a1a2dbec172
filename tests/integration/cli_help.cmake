# --help and -h on every command and subcommand: usage, exit 0, no side effect.
add_test(NAME integration.cli_help COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cli_help.sh $<TARGET_FILE:etude>)
set_tests_properties(integration.cli_help PROPERTIES LABELS integration TIMEOUT 120)
