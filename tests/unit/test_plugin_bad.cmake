# test_plugin_bad.c is not a test of its own: test_plugin.cmake builds it into broken plugins.
