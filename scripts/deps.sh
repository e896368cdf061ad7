#!/usr/bin/env bash
# Installs what building and testing libmp needs, on Debian, when missing.
# Sourced by scripts/test.sh and scripts/demo.sh.
mp_install_deps() {
    local need=()
    command -v cc >/dev/null 2>&1 || need+=(gcc)
    command -v make >/dev/null 2>&1 || need+=(make)
    command -v cmake >/dev/null 2>&1 || need+=(cmake)
    [ -n "${MP_DEMO_ONLY:-}" ] || {
        [ -f /usr/include/cmocka.h ] || need+=(libcmocka-dev)
        command -v python3 >/dev/null 2>&1 || need+=(python3)
        command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
        # The manual-page test renders with groff and man; the package test
        # builds .debs (dpkg-shlibdeps finds libmp's libc dependency).
        command -v groff >/dev/null 2>&1 || need+=(groff-base)
        command -v man >/dev/null 2>&1 || need+=(man-db)
        command -v dpkg-shlibdeps >/dev/null 2>&1 || need+=(dpkg-dev)
        # The cluster pool (libmp_mpi) and its tests need MPI; the core
        # library never does. MP_NO_MPI=1 builds and tests without it.
        [ -n "${MP_NO_MPI:-}" ] || command -v mpicc >/dev/null 2>&1 ||
            need+=(libopenmpi-dev openmpi-bin)
    }
    if [ ${#need[@]} -gt 0 ]; then
        local sudo=
        [ "$(id -u)" = 0 ] || sudo=sudo
        echo "installing: ${need[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
    fi
}
