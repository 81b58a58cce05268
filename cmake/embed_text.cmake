# Writes OUTPUT, a .cpp defining `std::string_view NAME()` in namespace rollcall that holds the
# bytes of INPUT as a raw string literal (run at build time by add_custom_command, so a change
# of INPUT rebuilds the binary). Usage: cmake -DINPUT=.. -DOUTPUT=.. -DNAME=.. -P embed_text.cmake
file(READ "${INPUT}" content)
string(FIND "${content}" ")rollcall_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} holds the raw string delimiter )rollcall_embed\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/embed_text.cmake; do not edit. No state, any thread.\n"
  "#include \"node/status_page.h\"\n"
  "namespace rollcall {\n"
  "std::string_view ${NAME}() {\n"
  "  static constexpr char kText[] = R\"rollcall_embed(${content})rollcall_embed\";\n"
  "  return {kText, sizeof kText - 1};\n"
  "}\n"
  "}  // namespace rollcall\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
