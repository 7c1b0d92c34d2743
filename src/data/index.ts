// Public API of src/data/ (filled in by its issue).
export {};
