//! Finds every workflow the documentation shows: the fenced ```yaml (or ```yml) blocks with a
//! top-level `jobs:` in README.md and docs/*.md, and examples/*.yml. A Markdown block opts
//! out of being run only with `<!-- not run under act: REASON -->` on the nearest non-blank
//! line above its fence; an examples/ file with a `# not run under act: REASON` line. A
//! marker without a reason, or one that is not followed by a workflow, is an error.

use std::path::Path;

/// The Markdown marker that keeps a workflow block from being run, and its YAML form.
const MD_MARKER: &str = "<!-- not run under act";
const YAML_MARKER: &str = "# not run under act";

/// One documented workflow to run.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// Repository-relative path of the page or file that shows it.
    pub source: String,
    /// Its place among the workflow blocks of `source`, from 0 (opted-out ones count).
    pub ordinal: usize,
    /// Line of its opening fence (1 for a whole file).
    pub line: usize,
    /// The YAML, with the fence's indentation removed.
    pub yaml: String,
}

impl Workflow {
    /// `README.md#0 (line 93)`: how tests and messages name it.
    pub fn label(&self) -> String {
        format!("{}#{} (line {})", self.source, self.ordinal, self.line)
    }
}

/// One workflow that is not run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptedOut {
    pub source: String,
    pub ordinal: usize,
    /// Line of the marker.
    pub line: usize,
    pub reason: String,
}

/// Everything found.
#[derive(Debug, Default)]
pub struct Found {
    pub run: Vec<Workflow>,
    pub opted_out: Vec<OptedOut>,
}

/// Whether `yaml` is a workflow: it has a `jobs:` key at the top level.
fn is_workflow(yaml: &str) -> bool {
    yaml.lines().any(|l| {
        l.strip_prefix("jobs:")
            .is_some_and(|rest| rest.trim().is_empty() || rest.starts_with(' '))
    })
}

/// The reason of a marker line (`<!-- not run under act: REASON -->` or
/// `# not run under act: REASON`), or an error when it has none.
fn reason(
    source: &str,
    line: usize,
    text: &str,
    prefix: &str,
    close: &str,
) -> Result<String, String> {
    let rest = text.trim().strip_prefix(prefix).unwrap_or_default();
    let rest = rest.strip_suffix(close).unwrap_or(rest);
    match rest.strip_prefix(':').map(str::trim) {
        Some(r) if !r.is_empty() => Ok(r.to_owned()),
        _ => Err(format!(
            "{source}:{line}: the marker `{}` has no reason; write `{prefix}: REASON{}`",
            text.trim(),
            if close.is_empty() {
                String::new()
            } else {
                format!(" {close}")
            }
        )),
    }
}

/// The workflow blocks of one Markdown page.
pub fn markdown(source: &str, text: &str, found: &mut Found) -> Result<(), String> {
    let lines: Vec<&str> = text.lines().collect();
    // Marker lines, each of which must be consumed by the workflow block below it.
    let mut markers: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with(MD_MARKER))
        .collect();
    let mut ordinal = 0;
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - trimmed.len();
        let lang = info.split_whitespace().next().unwrap_or("");
        let open = i;
        let mut body = String::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            let l = lines[i];
            let cut = l.len() - l.trim_start().len();
            body.push_str(&l[cut.min(indent)..]);
            body.push('\n');
            i += 1;
        }
        if i == lines.len() {
            return Err(format!(
                "{source}:{}: a fence that is never closed",
                open + 1
            ));
        }
        i += 1; // past the closing fence
        if !matches!(lang, "yaml" | "yml") || !is_workflow(&body) {
            continue;
        }
        let above = (0..open).rev().find(|&j| !lines[j].trim().is_empty());
        match above.filter(|&j| lines[j].trim_start().starts_with(MD_MARKER)) {
            Some(j) => {
                markers.retain(|&m| m != j);
                found.opted_out.push(OptedOut {
                    source: source.to_owned(),
                    ordinal,
                    line: j + 1,
                    reason: reason(source, j + 1, lines[j], MD_MARKER, "-->")?,
                });
            }
            None => found.run.push(Workflow {
                source: source.to_owned(),
                ordinal,
                line: open + 1,
                yaml: body,
            }),
        }
        ordinal += 1;
    }
    if let Some(&m) = markers.first() {
        return Err(format!(
            "{source}:{}: `{}` is not just above a ```yaml workflow block",
            m + 1,
            lines[m].trim()
        ));
    }
    Ok(())
}

/// A whole workflow file (examples/*.yml).
pub fn yaml_file(source: &str, text: &str, found: &mut Found) -> Result<(), String> {
    let marker = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim_start().starts_with(YAML_MARKER));
    if !is_workflow(text) {
        return match marker {
            Some((i, _)) => Err(format!(
                "{source}:{}: an opt-out marker in a file that is not a workflow",
                i + 1
            )),
            None => Ok(()),
        };
    }
    match marker {
        Some((i, l)) => found.opted_out.push(OptedOut {
            source: source.to_owned(),
            ordinal: 0,
            line: i + 1,
            reason: reason(source, i + 1, l, YAML_MARKER, "")?,
        }),
        None => found.run.push(Workflow {
            source: source.to_owned(),
            ordinal: 0,
            line: 1,
            yaml: text.to_owned(),
        }),
    }
    Ok(())
}

/// The files of `dir` (relative to `root`) whose names end in one of `exts`, sorted.
fn files(root: &Path, dir: &str, exts: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| exts.iter().any(|x| n.ends_with(x)))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}

/// Every documented workflow of the repository at `root`.
pub fn all(root: &Path) -> Result<Found, String> {
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    let mut found = Found::default();
    let mut pages = vec!["README.md".to_owned()];
    pages.extend(files(root, "docs", &[".md"]));
    for page in &pages {
        markdown(page, &read(page), &mut found)?;
    }
    for file in files(root, "examples", &[".yml", ".yaml"]) {
        yaml_file(&file, &read(&file), &mut found)?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WF: &str = "name: w\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n";

    fn md(text: &str) -> Result<Found, String> {
        let mut f = Found::default();
        markdown("page.md", text, &mut f).map(|()| f)
    }

    #[test]
    fn a_yaml_block_with_top_level_jobs_is_a_workflow_and_others_are_not() {
        let text = format!(
            "# t\n\n```yaml\n{WF}```\n\n```yaml\nversion: 1\nscripts: {{ roots: [s] }}\n```\n\n```sh\njobs: x\n```\n\n  ```yml\n  {}  ```\n",
            WF.replace('\n', "\n  ")
        );
        let f = md(&text).unwrap();
        assert_eq!(f.run.len(), 2, "{f:?}");
        assert_eq!((f.run[0].ordinal, f.run[0].line), (0, 3));
        assert_eq!((f.run[1].ordinal, f.run[1].line), (1, 22));
        assert!(
            f.run[1]
                .yaml
                .starts_with("name: w\non: push\njobs:\n  a:\n"),
            "indent removed: {:?}",
            f.run[1].yaml
        );
        assert!(f.opted_out.is_empty());
    }

    #[test]
    fn a_marker_with_a_reason_opts_the_block_below_out_and_keeps_the_ordinals() {
        let text = format!(
            "<!-- not run under act: needs a GitHub App token -->\n\n```yaml\n{WF}```\n\n```yaml\n{WF}```\n"
        );
        let f = md(&text).unwrap();
        assert_eq!(
            f.opted_out,
            vec![OptedOut {
                source: "page.md".into(),
                ordinal: 0,
                line: 1,
                reason: "needs a GitHub App token".into()
            }]
        );
        assert_eq!(f.run.len(), 1);
        assert_eq!(f.run[0].ordinal, 1);
    }

    #[test]
    fn a_marker_without_a_reason_is_an_error_naming_its_line() {
        for marker in [
            "<!-- not run under act -->",
            "<!-- not run under act:   -->",
        ] {
            let err = md(&format!("text\n{marker}\n```yaml\n{WF}```\n")).unwrap_err();
            assert!(err.starts_with("page.md:2: "), "{err}");
            assert!(err.contains("has no reason"), "{err}");
        }
    }

    #[test]
    fn a_marker_that_is_not_just_above_a_workflow_block_is_an_error() {
        let err = md(&format!(
            "<!-- not run under act: why -->\nsome prose\n```yaml\n{WF}```\n"
        ))
        .unwrap_err();
        assert!(err.starts_with("page.md:1: "), "{err}");
        let err = md("<!-- not run under act: why -->\n```sh\nls\n```\n").unwrap_err();
        assert!(err.contains("not just above"), "{err}");
    }

    #[test]
    fn an_unclosed_fence_is_an_error() {
        let err = md("```yaml\njobs:\n").unwrap_err();
        assert!(
            err.contains("page.md:1: a fence that is never closed"),
            "{err}"
        );
    }

    #[test]
    fn a_workflow_file_runs_unless_it_carries_a_marker_with_a_reason() {
        let mut f = Found::default();
        yaml_file("examples/a.yml", WF, &mut f).unwrap();
        yaml_file(
            "examples/b.yml",
            &format!("# not run under act: a self-hosted GPU runner\n{WF}"),
            &mut f,
        )
        .unwrap();
        yaml_file("examples/c.yml", "key: value\n", &mut f).unwrap();
        assert_eq!(f.run.len(), 1);
        assert_eq!(f.run[0].source, "examples/a.yml");
        assert_eq!(f.opted_out[0].reason, "a self-hosted GPU runner");
        let err = yaml_file(
            "examples/d.yml",
            &format!("# not run under act\n{WF}"),
            &mut f,
        )
        .unwrap_err();
        assert!(err.starts_with("examples/d.yml:1: "), "{err}");
    }
}
