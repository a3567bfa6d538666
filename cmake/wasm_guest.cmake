# Building WebAssembly guest modules (Kiln UDFs) from C or WAT.
#
#   include(${KILN_ROOT}/cmake/wasm_guest.cmake)
#   kiln_add_wasm_guest(<target> SOURCE <file.c|file.wat> OUTPUT <path/out.wasm>
#                       [EXPORTS name...]        # extra -Wl,--export=NAME (C only; prefer KILN_EXPORT)
#                       [INCLUDE_DIRS dir...]    # besides sdk/c, always on the include path
#                       [CFLAGS flag...]         # extra compiler flags (C only)
#                       [DEPENDS file...])       # extra dependencies
#
# C sources are compiled and linked in one step with clang --target=wasm32 and wasm-ld:
# freestanding (no libc), -O2, no entry point, symbols stripped, MVP features only (no SIMD,
# threads, bulk memory, sign-extension or other post-MVP feature the engine may refuse).
# Header dependencies are tracked with a depfile. .wat sources are assembled with wat2wasm.
# <target> is an ALL target producing OUTPUT.
#
# Sets KILN_WASM_GUEST_FOUND (clang with a working wasm32 target and wasm-ld) and
# KILN_WAT2WASM_FOUND. When a tool is missing, kiln_add_wasm_guest() warns once and adds
# nothing, so the rest of the build is unaffected.
include_guard(GLOBAL)

get_filename_component(KILN_WASM_GUEST_SDK ${CMAKE_CURRENT_LIST_DIR}/../sdk/c ABSOLUTE)

find_program(KILN_WASM_CLANG NAMES clang-14 clang clang-15 clang-16 clang-17 clang-18)
find_program(KILN_WASM_LD NAMES wasm-ld wasm-ld-14 wasm-ld-15 wasm-ld-16 wasm-ld-17 wasm-ld-18)
find_program(KILN_WAT2WASM NAMES wat2wasm)
find_program(KILN_WASM_VALIDATE NAMES wasm-validate)

set(KILN_WASM_CFLAGS --target=wasm32 -O2 -nostdlib -ffreestanding -fno-builtin
    -mcpu=mvp -mno-bulk-memory -mno-sign-ext -mno-simd128 -mno-nontrapping-fptoint
    -mno-multivalue -mno-reference-types -mno-mutable-globals
    -Wall -Wextra -Wno-unused-parameter)
# --stack-first: the C stack sits below the static data, so an overflow runs off the bottom of
# memory and traps instead of silently overwriting globals. A 16 KiB stack (wasm-ld's default
# is 64 KiB) lets a small UDF fit in one 64 KiB page: memory is restored after every query, so
# its size is a per-query cost.
set(KILN_WASM_LDFLAGS -Wl,--no-entry -Wl,--strip-all -Wl,--gc-sections -Wl,--stack-first
    -Wl,-z,stack-size=16384)

set(KILN_WASM_GUEST_FOUND OFF)
if(KILN_WASM_CLANG AND KILN_WASM_LD)
  # clang finds its wasm linker as "wasm-ld"; point it at the versioned name if needed.
  set(_kiln_ld_flag "-fuse-ld=${KILN_WASM_LD}")
  set(_kiln_probe_dir ${CMAKE_BINARY_DIR}/CMakeFiles/kiln_wasm_probe)
  file(MAKE_DIRECTORY ${_kiln_probe_dir})
  file(WRITE ${_kiln_probe_dir}/probe.c
       "__attribute__((export_name(\"kiln_abi_version\"))) int v(void) { return 1; }\n")
  execute_process(
    COMMAND ${KILN_WASM_CLANG} ${KILN_WASM_CFLAGS} ${_kiln_ld_flag} ${KILN_WASM_LDFLAGS}
            -o ${_kiln_probe_dir}/probe.wasm ${_kiln_probe_dir}/probe.c
    RESULT_VARIABLE _kiln_probe_rc OUTPUT_QUIET ERROR_VARIABLE _kiln_probe_err)
  if(_kiln_probe_rc EQUAL 0)
    set(KILN_WASM_GUEST_FOUND ON)
    list(APPEND KILN_WASM_LDFLAGS ${_kiln_ld_flag})
  else()
    message(STATUS "Kiln wasm guests: ${KILN_WASM_CLANG} cannot build wasm32 modules: ${_kiln_probe_err}")
  endif()
endif()
if(KILN_WAT2WASM)
  set(KILN_WAT2WASM_FOUND ON)
else()
  set(KILN_WAT2WASM_FOUND OFF)
endif()
message(STATUS "Kiln wasm guests: C ${KILN_WASM_GUEST_FOUND} (${KILN_WASM_CLANG}, ${KILN_WASM_LD}), "
               "WAT ${KILN_WAT2WASM_FOUND} (${KILN_WAT2WASM})")

function(kiln_add_wasm_guest target)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "SOURCE;OUTPUT" "EXPORTS;INCLUDE_DIRS;CFLAGS;DEPENDS")
  if(NOT A_SOURCE OR NOT A_OUTPUT)
    message(FATAL_ERROR "kiln_add_wasm_guest(${target}): SOURCE and OUTPUT are required")
  endif()
  get_filename_component(src ${A_SOURCE} ABSOLUTE)
  get_filename_component(out ${A_OUTPUT} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_BINARY_DIR})
  get_filename_component(outdir ${out} DIRECTORY)
  get_filename_component(ext ${src} LAST_EXT)

  if(ext STREQUAL ".wat")
    if(NOT KILN_WAT2WASM_FOUND)
      message(WARNING "kiln_add_wasm_guest(${target}): wat2wasm not found, ${A_SOURCE} not built")
      return()
    endif()
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
      COMMAND ${KILN_WAT2WASM} ${src} -o ${out}
      DEPENDS ${src} ${A_DEPENDS}
      COMMENT "wat2wasm ${A_SOURCE}"
      VERBATIM)
  else()
    if(NOT KILN_WASM_GUEST_FOUND)
      message(WARNING "kiln_add_wasm_guest(${target}): no clang wasm32 toolchain, ${A_SOURCE} not built")
      return()
    endif()
    set(incs -I${KILN_WASM_GUEST_SDK})
    foreach(d ${A_INCLUDE_DIRS})
      get_filename_component(d ${d} ABSOLUTE)
      list(APPEND incs -I${d})
    endforeach()
    set(exps)
    foreach(e ${A_EXPORTS})
      list(APPEND exps -Wl,--export=${e})
    endforeach()
    set(depfile ${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${target}.wasm.d)
    set(depfile_args)
    if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.20)
      set(depfile_args DEPFILE ${depfile})
    endif()
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
      COMMAND ${KILN_WASM_CLANG} ${KILN_WASM_CFLAGS} ${A_CFLAGS} ${incs} -MD -MF ${depfile} -MT ${out}
              ${KILN_WASM_LDFLAGS} ${exps} -o ${out} ${src}
      DEPENDS ${src} ${KILN_WASM_GUEST_SDK}/kiln_udf.h ${A_DEPENDS}
      ${depfile_args}
      COMMENT "clang --target=wasm32 ${A_SOURCE}"
      VERBATIM)
  endif()
  add_custom_target(${target} ALL DEPENDS ${out})
  set_property(TARGET ${target} PROPERTY KILN_WASM_OUTPUT ${out})
endfunction()
