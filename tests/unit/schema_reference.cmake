# unit.schema_reference: docs/graphql-schema.md is the reference schemadoc generates from sync/schema
# (sync/schemadoc/CMakeLists.txt); a difference fails with one line saying how to regenerate it.
# Checked by hand on the tree as well: with `maxStreams: Int!` added to Limits in
# sync/schema/sync.graphql, unit.schema_reference failed with
#   schemadoc: .../docs/graphql-schema.md differs from the reference generated from
#   .../sync/schema/sync.graphql (first at line 346); regenerate it with: cmake --build .../build
#   --target graphql-schema-doc-update
# (one line), and passed again once the schema was restored.
# unit.schema_reference_stale: the same check fails on a changed copy of the schema (a field
# added, a description changed, a document changed without its manifest line, an undefined type).
add_test(NAME unit.schema_reference
  COMMAND schemadoc ${ETUDE_SCHEMADOC_ARGS} --check ${PROJECT_SOURCE_DIR}/docs/graphql-schema.md
          --hint "regenerate it with: cmake --build ${PROJECT_BINARY_DIR} --target graphql-schema-doc-update")
set_tests_properties(unit.schema_reference PROPERTIES LABELS unit TIMEOUT 30)
add_test(NAME unit.schema_reference_stale
  COMMAND sh ${ETUDE_TESTS_DIR}/unit/schema_reference_stale.sh $<TARGET_FILE:schemadoc> ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.schema_reference_stale PROPERTIES LABELS unit TIMEOUT 30)
