# SPDX-License-Identifier: MIT
# fluff-notify: its texts and tables (unit), a recording
# org.freedesktop.Notifications stand-in, and the end-to-end and D-Bus
# activation tests on private buses.
fluff_add_c_test(test-notify-text SOURCES test-notify-text.c ${PROJECT_SOURCE_DIR}/client/notify/batch.c
                 ${PROJECT_SOURCE_DIR}/client/notify/shown.c LIBS fluff-notify-text fluff-client LABELS unit)
target_include_directories(test-notify-text PRIVATE ${PROJECT_SOURCE_DIR}/client/notify)

add_executable(notify-standin notify/notify-standin.c)
target_link_libraries(notify-standin PRIVATE fluff-common PkgConfig::JSONC)
fluff_add_py_test(test-notify SCRIPT integration/test-notify.py LABELS integration SESSION TIMEOUT 300)
# SESSION for the fresh XDG folders; the test runs its own dbus-daemon.
fluff_add_py_test(test-activation SCRIPT integration/test-activation.py LABELS integration SESSION TIMEOUT 120)
