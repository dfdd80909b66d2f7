# SPDX-License-Identifier: MIT
# Runs at install time (see CMakeLists.txt): CMAKE_INSTALL_PREFIX is the final one.
set(FLUFF_BINDIR "${CMAKE_INSTALL_PREFIX}/${FLUFF_BINDIR_REL}")
set(FLUFF_DOCDIR "${CMAKE_INSTALL_PREFIX}/${FLUFF_DOCDIR_REL}")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND SYSTEMD_USER_UNIT_DIR_PC)
    set(unit_dir "${SYSTEMD_USER_UNIT_DIR_PC}")
else()
    # share/, not lib/: systemd --user reads ~/.local/share/systemd/user (and
    # /usr/local/share/...) but never ~/.local/lib/systemd/user, so this is the
    # folder where `--prefix ~/.local` works as the README says.
    set(unit_dir "${CMAKE_INSTALL_PREFIX}/${FLUFF_DATADIR_REL}/systemd/user")
endif()
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND DBUS_SERVICES_DIR_PC)
    set(dbus_dir "${DBUS_SERVICES_DIR_PC}")
else()
    set(dbus_dir "${CMAKE_INSTALL_PREFIX}/${FLUFF_DATADIR_REL}/dbus-1/services")
endif()

foreach(t IN LISTS FLUFF_TEMPLATES)
    if(t MATCHES "^io\\.github")
        set(dest "$ENV{DESTDIR}${dbus_dir}/${t}")
    else()
        set(dest "$ENV{DESTDIR}${unit_dir}/${t}")
    endif()
    message(STATUS "Installing: ${dest}")
    configure_file("${FLUFF_SOURCE}/${t}.in" "${dest}" @ONLY)
endforeach()
