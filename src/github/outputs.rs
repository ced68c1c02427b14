//! Step outputs appended to `GITHUB_OUTPUT`: `name=value` for one-line values, the
//! heredoc form `name<<DELIM` … `DELIM` for multi-line ones, with a random delimiter that
//! does not occur in the value.

/// Why an output could not be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutputError {
    /// The output name is empty or contains `=`, `<` or a line break.
    #[error("output name `{0}` is not valid: it must be non-empty without `=`, `<` or line breaks")]
    BadName(String),
    /// No delimiter absent from the value could be found.
    #[error("could not find a heredoc delimiter absent from the value of output `{0}`")]
    NoDelimiter(String),
    /// The random source failed.
    #[error("the random source failed while making a heredoc delimiter")]
    Random,
}

/// A fresh random delimiter from the system's secure random source.
pub fn random_delimiter() -> Result<String, OutputError> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| OutputError::Random)?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("ghadelimiter_{hex}"))
}

/// Formats one output for `GITHUB_OUTPUT`. `delimiter` is asked for candidates (usually
/// [`random_delimiter`]) until one does not occur in `value`, at most 8 times.
pub fn format_output(
    name: &str,
    value: &str,
    mut delimiter: impl FnMut() -> Result<String, OutputError>,
) -> Result<String, OutputError> {
    if name.is_empty() || name.contains(['=', '<', '\n', '\r']) {
        return Err(OutputError::BadName(name.to_owned()));
    }
    if !value.contains(['\n', '\r']) {
        return Ok(format!("{name}={value}\n"));
    }
    for _ in 0..8 {
        let d = delimiter()?;
        if !d.is_empty() && !value.contains(d.as_str()) {
            return Ok(format!("{name}<<{d}\n{value}\n{d}\n"));
        }
    }
    Err(OutputError::NoDelimiter(name.to_owned()))
}

/// Appends every `(name, value)` to the outputs file at `path` (`GITHUB_OUTPUT`) in one
/// write, each formatted by [`format_output`] with a [`random_delimiter`]. A bad name or a
/// failed random source is an error of kind `InvalidInput`/`Other`, before anything is
/// written.
pub fn append_outputs(path: &std::path::Path, pairs: &[(&str, String)]) -> std::io::Result<()> {
    let mut text = String::new();
    for (name, value) in pairs {
        let one = format_output(name, value, random_delimiter).map_err(|e| match e {
            OutputError::BadName(_) => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            other => std::io::Error::other(other),
        })?;
        text.push_str(&one);
    }
    super::append_to(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_values_use_name_equals_value() {
        assert_eq!(
            format_output("verdict", "pass", random_delimiter).unwrap(),
            "verdict=pass\n"
        );
    }

    #[test]
    fn multi_line_values_use_a_heredoc_with_a_delimiter_absent_from_the_value() {
        let mut candidates = vec!["EOF".to_owned(), "DELIM".to_owned()].into_iter();
        let out = format_output("list", "a\nEOF\nb", || Ok(candidates.next().unwrap())).unwrap();
        assert_eq!(out, "list<<DELIM\na\nEOF\nb\nDELIM\n");
    }

    #[test]
    fn random_delimiters_differ() {
        let a = random_delimiter().unwrap();
        let b = random_delimiter().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("ghadelimiter_"));
        let out = format_output("x", "1\n2", random_delimiter).unwrap();
        assert!(out.starts_with("x<<ghadelimiter_"));
    }

    #[test]
    fn gives_up_when_every_delimiter_occurs_in_the_value() {
        let err = format_output("x", "a\nEOF", || Ok("EOF".to_owned())).unwrap_err();
        assert_eq!(err, OutputError::NoDelimiter("x".into()));
    }

    #[test]
    fn rejects_names_the_runner_cannot_parse() {
        for bad in ["", "a=b", "a<<b", "a\nb"] {
            assert!(matches!(
                format_output(bad, "v", random_delimiter),
                Err(OutputError::BadName(_))
            ));
        }
    }
}
