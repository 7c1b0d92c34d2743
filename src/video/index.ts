// Public API of src/video/ (filled in by its issue).
export {};
