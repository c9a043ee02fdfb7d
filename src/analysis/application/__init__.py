"""The application layer: the command line, the runner and its kernels, monthly reports, exports,
handouts and grading. Imports every layer below it."""
