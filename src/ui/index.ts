// Public API of src/ui/ (filled in by its issue).
export {};
