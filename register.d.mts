// The register entry only installs hooks; it exports nothing.
export {};
