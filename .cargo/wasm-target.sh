#!/bin/sh
# Cargo runs every rustc call of this workspace through this script (see config.toml). Cargo's
# first call, `rustc -vV`, comes before anything compiles; there the script makes sure the
# toolchain has the wasm32-wasip2 target the bundled plugins are built for, because rustup
# installs the targets listed in rust-toolchain.toml only when it installs the toolchain itself.
# Every call then runs unchanged. Output never goes to stdout, which cargo parses.
target=wasm32-wasip2

# `wrapper rustc -vV`, or `wrapper workspace-wrapper rustc -vV` under clippy.
rustc=""
if [ "$2" = "-vV" ]; then rustc=$1; elif [ "$3" = "-vV" ]; then rustc=$2; fi

if [ -n "$rustc" ]; then
    sysroot=$("$rustc" --print sysroot 2>/dev/null)
    if [ -n "$sysroot" ] && [ ! -d "$sysroot/lib/rustlib/$target" ]; then
        if [ -n "$RUSTUP_TOOLCHAIN" ]; then
            by_hand="rustup target add $target --toolchain $RUSTUP_TOOLCHAIN"
        else
            by_hand="rustup target add $target"
        fi
        # Cargo shows this call's stderr only when it fails; a terminal sees the progress.
        if (: >/dev/tty) 2>/dev/null; then say=/dev/tty; else say=/dev/stderr; fi
        if ! command -v rustup >/dev/null 2>&1; then
            echo "error: the toolchain at $sysroot lacks the $target target and rustup is not installed; install that target for it (with rustup: \`$by_hand\`), then build again" >&2
            exit 1
        fi
        echo "The toolchain lacks the $target target the plugins are built for; running \`$by_hand\`" >"$say"
        if [ -n "$RUSTUP_TOOLCHAIN" ]; then
            rustup target add "$target" --toolchain "$RUSTUP_TOOLCHAIN" >"$say" 2>&1
        else
            rustup target add "$target" >"$say" 2>&1
        fi
        if [ $? -ne 0 ] || [ ! -d "$sysroot/lib/rustlib/$target" ]; then
            echo "error: the $target target is missing and adding it failed; run \`$by_hand\`, then build again" >&2
            exit 1
        fi
    fi
fi
exec "$@"
