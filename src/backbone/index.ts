// Public API of src/backbone/ (filled in by its issue).
export {};
