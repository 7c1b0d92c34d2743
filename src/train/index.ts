// Public API of src/train/ (filled in by its issue).
export {};
