// Public API of src/side/ (filled in by its issue).
export {};
