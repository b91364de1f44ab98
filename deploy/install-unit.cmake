# Writes pixd.service at install time (included by the install rules in CMakeLists.txt), so
# that ExecStart names the bin folder of the prefix given to `cmake --install --prefix`, not
# the one known when the build was configured. In: PIXD_UNIT_IN (the template), PIXD_BINDIR
# and PIXD_UNITDIR (relative to the prefix, or absolute); DESTDIR is honoured as usual.
foreach(var BINDIR UNITDIR)
  if(IS_ABSOLUTE "${PIXD_${var}}")
    set(full_${var} "${PIXD_${var}}")
  else()
    set(full_${var} "${CMAKE_INSTALL_PREFIX}/${PIXD_${var}}")
  endif()
endforeach()
set(CMAKE_INSTALL_FULL_BINDIR "${full_BINDIR}") # the name the template uses
set(dest "$ENV{DESTDIR}${full_UNITDIR}/pixd.service")
message(STATUS "Installing: ${dest}")
configure_file("${PIXD_UNIT_IN}" "${dest}" @ONLY)
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${dest}") # so install_manifest.txt lists it
