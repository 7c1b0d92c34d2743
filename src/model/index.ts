// Public API of src/model/: a trained run loaded for inference (loadModel), the run directory
// as inference reads it, the test-time view of a run, multi-view prediction and its metrics.
export {
  loadModel, topLabels, DEFAULT_BATCH_SIZE, DEFAULT_TOP,
  type LosaModel, type LoadModelOptions, type ModelInput, type Prediction, type Failure, type Classification, type PredictOptions,
} from './model.js';
export {
  RUN_FILES, readRunManifest, readSideWeights, runWeightsFile,
  type RunManifest, type RunBackbone, type RunSampling, type RunProgress, type RunCheckpoint,
} from './run.js';
export {
  testPlan, runTestPlan, validationSeed, loadRunBackbone, type TestSampling, type TestViews, type RunBackboneOptions,
} from './view.js';
export { predictItems, evaluate, sideLogits, type Predictor, type PredictProgress, type ItemPrediction, type ItemFailure, type Evaluation } from './predict.js';
export { softmax, meanSoftmax, rankClasses, ClassificationTally } from './metrics.js';
