"""Lists of cases coming in as spreadsheets (CSV or XLSX): reading a file safely (`reading`),
the column template and its headers (`template`), a row's cells (`rows`), and the import
itself through the registration services, dry run first (`cases`)."""
