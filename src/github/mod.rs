//! The GitHub Actions runner: environment, job summary, annotations and outputs.
