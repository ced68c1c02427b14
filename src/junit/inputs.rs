//! Command-line inputs: files and globs to a sorted file list.

use std::path::{Component, Path, PathBuf};

use globset::GlobBuilder;

use super::error::{JunitError, JunitErrorKind};

fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Expands files and globs (`*` stays within a directory, `**` crosses directories,
/// `?`, `[abc]`, `{a,b}`) to a sorted, de-duplicated list of files. Relative patterns
/// are resolved against `root`. A plain path is returned as is, whether or not it
/// exists (reading it reports a missing file); a glob that matches no file is an
/// error. Ignore files are not consulted: test reports often live in ignored
/// directories.
pub fn expand_inputs(root: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, JunitError> {
    let mut out = Vec::new();
    for pattern in patterns {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            root.join(pattern)
        };
        if !has_glob_meta(pattern) {
            out.push(full);
            return_if_empty_name(pattern)?;
            continue;
        }
        let input_error = |msg: String| JunitError::new(pattern, 1, 1, JunitErrorKind::Input(msg));
        let full_str = full
            .to_str()
            .ok_or_else(|| input_error("the pattern is not UTF-8".into()))?;
        let glob = GlobBuilder::new(full_str)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| input_error(format!("not a valid glob: {e}")))?
            .compile_matcher();
        // Walk only below the directories before the first component with a wildcard.
        let mut base = PathBuf::new();
        for comp in full.components() {
            let s = comp.as_os_str().to_string_lossy();
            if matches!(comp, Component::Normal(_)) && has_glob_meta(&s) {
                break;
            }
            base.push(comp.as_os_str());
        }
        let mut found = 0usize;
        if base.exists() {
            let walk = ignore::WalkBuilder::new(&base)
                .standard_filters(false)
                .follow_links(true)
                .filter_entry(|e| e.file_name() != ".git")
                .build();
            for entry in walk.flatten() {
                if entry.file_type().is_some_and(|t| t.is_file()) && glob.is_match(entry.path()) {
                    out.push(entry.into_path());
                    found += 1;
                }
            }
        }
        if found == 0 {
            return Err(input_error("the pattern matches no files".into()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn return_if_empty_name(pattern: &str) -> Result<(), JunitError> {
    if pattern.is_empty() {
        return Err(JunitError::new(
            pattern,
            1,
            1,
            JunitErrorKind::Input("an empty path".into()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_expand_sorted_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in ["a/x.xml", "a/b/y.xml", "a/b/z.txt", "c.xml"] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "<testsuite/>").unwrap();
        }
        let got = expand_inputs(
            root,
            &["a/**/*.xml".into(), "c.xml".into(), "a/*.xml".into()],
        )
        .unwrap();
        let rel: Vec<_> = got
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(rel, ["a/b/y.xml", "a/x.xml", "c.xml"]);
    }

    #[test]
    fn a_glob_matching_nothing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = expand_inputs(dir.path(), &["nothing/**/*.xml".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nothing/**/*.xml:1:1: the pattern matches no files"
        );
    }

    #[test]
    fn a_star_does_not_cross_directories() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/y.xml");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "x").unwrap();
        assert!(expand_inputs(dir.path(), &["a/*.xml".into()]).is_err());
    }
}
