//! The release binary for runners other than this machine's, cross-built here with
//! `scripts/build-static.sh TARGET` and run under an emulator: arm64 Linux (static musl,
//! built with cargo-zigbuild) under `qemu-aarch64`, Windows x64 (mingw-w64) under `wine`.
//! Each target is built by exactly one test, in release, into `target/static`; the first
//! build takes minutes, later ones reuse it. Both tests take the build directory's lock in
//! turn, so the two builds never compete for the machine.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The crate root.
fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether `cmd` runs and exits 0.
fn works(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// A peer the test needs. Missing: a failure under `PROOFGATE_REQUIRE_PEERS=1`, else a
/// loud skip.
fn peer(found: bool, what: &str, why: &str) -> bool {
    if !found {
        if std::env::var("PROOFGATE_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("peer `{what}` is required ({why}) but is not installed: run scripts/setup.sh");
        }
        eprintln!(
            "SKIPPED: peer `{what}` is not installed ({why}); run scripts/setup.sh. \
             Under PROOFGATE_REQUIRE_PEERS=1 this is a failure."
        );
    }
    found
}

fn program(name: &str, why: &str) -> bool {
    peer(works(Command::new(name).arg("--version")), name, why)
}

fn rust_target(target: &str) -> bool {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == target)
        })
        .unwrap_or(false);
    peer(
        installed,
        &format!("rust target {target}"),
        "the standard library for the cross build",
    )
}

/// Builds `target` with the release build script; the binary's path.
fn build(target: &str) -> PathBuf {
    let o = Command::new("bash")
        .args(["scripts/build-static.sh", target])
        .current_dir(crate_root())
        .output()
        .expect("spawn bash");
    assert!(
        o.status.success(),
        "build of {target} failed:\n{}",
        text(&o)
    );
    let path = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    crate_root().join(path)
}

/// Runs `cmd` under coreutils `timeout`, so a hung emulator fails the test instead of
/// holding the suite.
fn run_bounded(secs: u32, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "10", &secs.to_string(), program])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn timeout")
}

/// What the demo prints when it works: the honest run passes, both tamperings are caught.
fn assert_demo_output(o: &Output) {
    let out = text(o);
    assert_eq!(o.status.code(), Some(0), "demo:\n{out}");
    for needle in [
        "gate: PASS (3 scripts",
        "SCRIPT_DIGEST_MISMATCH backup-db",
        "STATEMENT_MISMATCH rotate-logs",
        "caught both tampering attempts",
    ] {
        assert!(out.contains(needle), "missing `{needle}` in:\n{out}");
    }
}

const EM_AARCH64: u16 = 183;
const ET_EXEC: u16 = 2;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;

/// What an ELF header says about linking.
#[derive(Debug, PartialEq, Eq)]
struct Elf {
    /// `e_machine`.
    machine: u16,
    /// `e_type` (`ET_EXEC` for a non-PIE executable).
    kind: u16,
    /// Whether it names a dynamic loader (`PT_INTERP`).
    interp: bool,
    /// Whether it has a dynamic section (`PT_DYNAMIC`).
    dynamic: bool,
}

/// Reads a 64-bit little-endian ELF file's header and program headers.
fn read_elf(b: &[u8]) -> Result<Elf, String> {
    let u16_at = |o: usize| -> Result<u16, String> {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]))
            .ok_or_else(|| format!("truncated at byte {o}"))
    };
    let u32_at = |o: usize| -> Result<u32, String> {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
            .ok_or_else(|| format!("truncated at byte {o}"))
    };
    let u64_at = |o: usize| -> Result<u64, String> {
        b.get(o..o + 8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
            .ok_or_else(|| format!("truncated at byte {o}"))
    };
    if b.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    if b.get(4..6) != Some(&[2, 1]) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let phoff = usize::try_from(u64_at(32)?).map_err(|e| e.to_string())?;
    let phentsize = usize::from(u16_at(54)?);
    let phnum = usize::from(u16_at(56)?);
    let mut interp = false;
    let mut dynamic = false;
    for i in 0..phnum {
        match u32_at(phoff + i * phentsize)? {
            PT_INTERP => interp = true,
            PT_DYNAMIC => dynamic = true,
            _ => {}
        }
    }
    Ok(Elf {
        machine: u16_at(18)?,
        kind: u16_at(16)?,
        interp,
        dynamic,
    })
}

/// A static, non-PIE aarch64 executable: no loader, no dynamic section.
fn is_static_aarch64(e: &Elf) -> bool {
    *e == Elf {
        machine: EM_AARCH64,
        kind: ET_EXEC,
        interp: false,
        dynamic: false,
    }
}

#[test]
fn the_arm64_linux_binary_is_static_and_runs_under_qemu() {
    if !(rust_target("aarch64-unknown-linux-musl")
        && program("cargo-zigbuild", "cross-builds the arm64 binary")
        && peer(
            works(Command::new("python3").args(["-m", "ziglang", "version"]))
                || works(Command::new("zig").arg("version")),
            "zig (ziglang)",
            "the C compiler and linker of the arm64 build",
        )
        && program("qemu-aarch64", "runs the arm64 binary"))
    {
        return;
    }
    let bin = build("aarch64-unknown-linux-musl");
    let elf = read_elf(&std::fs::read(&bin).unwrap()).unwrap();
    assert!(is_static_aarch64(&elf), "{}: {elf:?}", bin.display());

    let bin = bin.to_str().unwrap();
    let v = run_bounded(60, "qemu-aarch64", &[bin, "--version"], &[]);
    assert!(v.status.success(), "{}", text(&v));
    let version = String::from_utf8_lossy(&v.stdout);
    assert_eq!(
        version.trim(),
        format!("proofgate {}", env!("CARGO_PKG_VERSION"))
    );
    assert_demo_output(&run_bounded(120, "qemu-aarch64", &[bin, "demo"], &[]));
}

#[test]
fn the_static_check_rejects_a_dynamic_executable_for_this_machine() {
    // The test binary itself: linked for this machine, with a loader.
    let me = std::env::current_exe().unwrap();
    let elf = read_elf(&std::fs::read(&me).unwrap()).unwrap();
    assert!(elf.interp && elf.dynamic, "{elf:?}");
    assert!(!is_static_aarch64(&elf), "{elf:?}");
}

#[test]
fn the_static_check_rejects_a_file_that_is_not_elf() {
    assert_eq!(
        read_elf(b"MZ\x90\x00 not an ELF file"),
        Err("not an ELF file".to_owned())
    );
    assert!(read_elf(b"\x7fELF\x02\x01").is_err());
}

const IMAGE_FILE_MACHINE_AMD64: u16 = 0x8664;

/// The machine a PE (Windows) executable is for.
fn pe_machine(b: &[u8]) -> Result<u16, String> {
    if b.get(..2) != Some(b"MZ") {
        return Err("not a PE file: no MZ header".into());
    }
    let at = b
        .get(0x3c..0x40)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        .ok_or("truncated DOS header")?;
    let at = usize::try_from(at).map_err(|e| e.to_string())?;
    if b.get(at..at + 4) != Some(b"PE\0\0") {
        return Err("not a PE file: no PE signature".into());
    }
    b.get(at + 4..at + 6)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| "truncated PE header".into())
}

/// The DLLs a PE executable imports, as `objdump -p` lists them, lower-cased.
fn imported_dlls(objdump_p: &str) -> Vec<String> {
    objdump_p
        .lines()
        .filter_map(|l| l.trim().strip_prefix("DLL Name:"))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect()
}

/// The DLLs of the mingw-w64 runtime, which a Windows machine does not have: the binary
/// must link them in.
fn is_mingw_runtime(dll: &str) -> bool {
    dll.starts_with("libgcc") || dll.starts_with("libwinpthread") || dll.starts_with("libstdc++")
}

/// Wine 8.0 (Debian 12) has no `bcryptprimitives.dll`, whose `ProcessPrng` the Rust standard
/// library draws its randomness from on Windows; every Windows the binary supports (10 and
/// later) ships it. This stand-in, built with mingw-w64 and put beside a copy of the binary
/// only for the run under wine, forwards to `BCryptGenRandom`, which wine has.
const PROCESS_PRNG_FOR_WINE: &str = r#"#include <windows.h>
#include <bcrypt.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
"#;

#[test]
fn the_windows_binary_needs_only_system_dlls_and_runs_under_wine() {
    if !(rust_target("x86_64-pc-windows-gnu")
        && program(
            "x86_64-w64-mingw32-gcc",
            "the C compiler and linker of the Windows build",
        )
        && program(
            "x86_64-w64-mingw32-objdump",
            "lists the DLLs the Windows binary imports",
        )
        && program("wine", "runs the Windows binary"))
    {
        return;
    }
    let exe = build("x86_64-pc-windows-gnu");
    let machine = pe_machine(&std::fs::read(&exe).unwrap()).unwrap();
    assert_eq!(machine, IMAGE_FILE_MACHINE_AMD64, "{}", exe.display());
    let o = Command::new("x86_64-w64-mingw32-objdump")
        .arg("-p")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let dlls = imported_dlls(&String::from_utf8_lossy(&o.stdout));
    assert!(dlls.iter().any(|d| d == "kernel32.dll"), "{dlls:?}");
    assert!(!dlls.iter().any(|d| is_mingw_runtime(d)), "{dlls:?}");

    // A copy of the binary beside the stand-in DLL, so the release output stays as built.
    let t = tempfile::tempdir().unwrap();
    std::fs::copy(&exe, t.path().join("proofgate.exe")).unwrap();
    std::fs::write(t.path().join("prng.c"), PROCESS_PRNG_FOR_WINE).unwrap();
    std::fs::write(
        t.path().join("prng.def"),
        "LIBRARY bcryptprimitives\nEXPORTS\nProcessPrng\n",
    )
    .unwrap();
    let cc = Command::new("x86_64-w64-mingw32-gcc")
        .args([
            "-O2",
            "-shared",
            "-o",
            "bcryptprimitives.dll",
            "prng.c",
            "prng.def",
            "-lbcrypt",
        ])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(cc.status.success(), "{}", text(&cc));

    // One wine prefix for every run, beside the builds (made on the first run, ~10 s).
    let prefix = crate_root().join("target/static/wine-prefix");
    let exe = t.path().join("proofgate.exe");
    let exe = exe.to_str().unwrap();
    let env = [
        ("WINEPREFIX", prefix.to_str().unwrap()),
        ("WINEDEBUG", "-all"),
        // No prompt to install Mono or Gecko into a new prefix.
        ("WINEDLLOVERRIDES", "mscoree,mshtml="),
    ];
    let v = run_bounded(300, "wine", &[exe, "--version"], &env);
    assert!(v.status.success(), "{}", text(&v));
    let version = String::from_utf8_lossy(&v.stdout);
    assert_eq!(
        version.trim(),
        format!("proofgate {}", env!("CARGO_PKG_VERSION"))
    );
    assert_demo_output(&run_bounded(120, "wine", &[exe, "demo"], &env));
}

#[test]
fn the_windows_checks_reject_a_foreign_binary_and_the_mingw_runtime() {
    let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert_eq!(
        pe_machine(&me),
        Err("not a PE file: no MZ header".to_owned())
    );
    let listing = "\tDLL Name: KERNEL32.dll\n\tvma: Hint\n\tDLL Name: libwinpthread-1.dll\n";
    let dlls = imported_dlls(listing);
    assert_eq!(dlls, ["kernel32.dll", "libwinpthread-1.dll"]);
    assert!(!is_mingw_runtime(&dlls[0]));
    assert!(is_mingw_runtime(&dlls[1]));
}

#[test]
fn shim_maps_windows_x64_to_the_cross_built_exe() {
    if !program("node", "runs the Action's shim") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let rel = "bin/x86_64-pc-windows-gnu/proofgate.exe";
    let body = b"MZ not really a binary";
    std::fs::create_dir_all(d.path().join("bin/x86_64-pc-windows-gnu")).unwrap();
    std::fs::write(d.path().join(rel), body).unwrap();
    let sum = proofgate::digest::Sha256Digest::of(body).hex();
    std::fs::write(d.path().join("checksums.txt"), format!("{sum}  {rel}\n")).unwrap();
    let script = format!(
        "const s=require('./dist/index.js'); console.log(s.resolveBinary({{}}, 'win32', 'x64', {:?}))",
        d.path().to_str().unwrap()
    );
    let o = Command::new("node")
        .arg("-e")
        .arg(script)
        .current_dir(crate_root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let picked = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert_eq!(picked, d.path().join(rel).to_str().unwrap());
}
