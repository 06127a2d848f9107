// The boundary between Node and the engine: the only file that includes node-addon-api.
// It reads JS objects and typed arrays into the engine's plain structs, queues training,
// evaluation, prediction and gradient checks on background threads, and turns
// caviar::Error into JS Errors with the same `code`. The rules of a run (busy, cancel, which
// epochs are handed over together, the wait after each hand-over, a rate change) are the
// engine's Session's. Its JS shape is src/engine/native.ts.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "blas.h"
#include "error.h"
#include "gradcheck.h"
#include "model.h"
#include "session.h"

namespace {

using caviar::DataView;
using caviar::EpochMetrics;
using caviar::ModelState;
using caviar::NetworkSpec;
using caviar::PartMetrics;
using caviar::TrainingSpec;

constexpr const char* kInvalidArgument = "INVALID_ARGUMENT";
constexpr const char* kInternal = "INTERNAL";

// An error as it travels from a background thread back to the JS thread.
struct Failure {
  std::string code;
  std::string message;
  std::string path = {};
};

Napi::Error makeError(Napi::Env env, const Failure& failure, bool typeError = false) {
  Napi::Error error = typeError ? Napi::TypeError::New(env, failure.message)
                                : Napi::Error::New(env, failure.message);
  error.Set("code", Napi::String::New(env, failure.code));
  if (!failure.path.empty()) error.Set("path", Napi::String::New(env, failure.path));
  return error;
}

[[noreturn]] void throwArgument(Napi::Env env, const std::string& message) {
  throw makeError(env, {kInvalidArgument, message}, true);
}

// Runs engine code, turning its errors into a Failure.
template <typename Work>
std::optional<Failure> capture(Work&& work) {
  try {
    work();
    return std::nullopt;
  } catch (const caviar::Error& error) {
    return Failure{error.code(), error.what(), error.path()};
  } catch (const std::bad_alloc&) {
    return Failure{kInternal, "out of memory", ""};
  } catch (const std::exception& error) {
    return Failure{kInternal, error.what(), ""};
  }
}

// Runs engine code on the JS thread, throwing its errors as JS exceptions.
template <typename Work>
void onJsThread(Napi::Env env, Work&& work) {
  if (auto failure = capture(std::forward<Work>(work))) throw makeError(env, *failure);
}

// ---- Reading JS values ---------------------------------------------------------------

Napi::Value field(const Napi::Object& object, const char* key) {
  if (!object.Has(key)) throwArgument(object.Env(), std::string("missing field '") + key + "'");
  return object.Get(key);
}

double number(const Napi::Object& object, const char* key) {
  const Napi::Value value = field(object, key);
  if (!value.IsNumber()) throwArgument(object.Env(), std::string("'") + key + "' must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

int integer(const Napi::Object& object, const char* key) {
  const double value = number(object, key);
  if (value != std::floor(value) || std::abs(value) > 2147483647.0)
    throwArgument(object.Env(), std::string("'") + key + "' must be an integer");
  return static_cast<int>(value);
}

std::string text(const Napi::Object& object, const char* key) {
  const Napi::Value value = field(object, key);
  if (!value.IsString()) throwArgument(object.Env(), std::string("'") + key + "' must be a string");
  return value.As<Napi::String>().Utf8Value();
}

bool flag(const Napi::Object& object, const char* key) {
  const Napi::Value value = field(object, key);
  if (!value.IsBoolean()) throwArgument(object.Env(), std::string("'") + key + "' must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

Napi::Object objectOf(const Napi::Value& value, const char* what) {
  if (!value.IsObject() || value.IsArray())
    throwArgument(value.Env(), std::string(what) + " must be an object");
  return value.As<Napi::Object>();
}

Napi::Float32Array floats(const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throwArgument(value.Env(), std::string(what) + " must be a Float32Array");
  return value.As<Napi::Float32Array>();
}

std::vector<float> floatVector(const Napi::Value& value, const char* what) {
  const Napi::Float32Array array = floats(value, what);
  return std::vector<float>(array.Data(), array.Data() + array.ElementLength());
}

// Engine names ("relu", "adamw", ...) become enums; an unknown name throws INVALID_SPEC.
template <typename Parse>
auto named(const Napi::Object& object, const char* key, Parse parse) {
  const std::string name = text(object, key);
  decltype(parse(name)) result{};
  onJsThread(object.Env(), [&] { result = parse(name); });
  return result;
}

NetworkSpec readNetwork(const Napi::Value& value) {
  const Napi::Object object = objectOf(value, "network");
  NetworkSpec spec;
  spec.inputs = integer(object, "inputs");
  const Napi::Value layers = field(object, "layers");
  if (!layers.IsArray()) throwArgument(value.Env(), "'layers' must be an array");
  const Napi::Array array = layers.As<Napi::Array>();
  for (uint32_t index = 0; index < array.Length(); ++index) {
    const Napi::Object layer = objectOf(array.Get(index), "a layer");
    caviar::LayerSpec entry;
    entry.units = integer(layer, "units");
    entry.activation = named(layer, "activation", caviar::activationFromName);
    entry.batchNorm = flag(layer, "batchNorm");
    entry.dropout = number(layer, "dropout");
    spec.layers.push_back(entry);
  }
  spec.loss = named(object, "loss", caviar::lossFromName);
  spec.init = named(object, "init", caviar::initFromName);
  spec.initScale = number(object, "initScale");
  return spec;
}

Napi::Object writeNetwork(Napi::Env env, const NetworkSpec& spec) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("inputs", spec.inputs);
  Napi::Array layers = Napi::Array::New(env, spec.layers.size());
  for (size_t index = 0; index < spec.layers.size(); ++index) {
    const caviar::LayerSpec& entry = spec.layers[index];
    Napi::Object layer = Napi::Object::New(env);
    layer.Set("units", entry.units);
    layer.Set("activation", caviar::activationName(entry.activation));
    layer.Set("batchNorm", entry.batchNorm);
    layer.Set("dropout", entry.dropout);
    layers.Set(static_cast<uint32_t>(index), layer);
  }
  object.Set("layers", layers);
  object.Set("loss", caviar::lossName(spec.loss));
  object.Set("init", caviar::initName(spec.init));
  object.Set("initScale", spec.initScale);
  return object;
}

TrainingSpec readTraining(const Napi::Value& value) {
  const Napi::Object object = objectOf(value, "training");
  TrainingSpec spec;
  spec.batchSize = integer(object, "batchSize");
  spec.shuffle = flag(object, "shuffle");
  const double seed = number(object, "seed");
  if (!(seed >= 0 && seed <= 9007199254740991.0) || seed != std::floor(seed))
    throwArgument(value.Env(), "'seed' must be an integer in [0, 2^53)");
  spec.seed = static_cast<uint64_t>(seed);
  const Napi::Object optimizer = objectOf(field(object, "optimizer"), "optimizer");
  spec.optimizer.type = named(optimizer, "type", caviar::optimizerFromName);
  spec.optimizer.learningRate = number(optimizer, "learningRate");
  spec.optimizer.beta = number(optimizer, "beta");
  spec.optimizer.beta1 = number(optimizer, "beta1");
  spec.optimizer.beta2 = number(optimizer, "beta2");
  spec.optimizer.epsilon = number(optimizer, "epsilon");
  spec.optimizer.weightDecay = number(optimizer, "weightDecay");
  const Napi::Object decay = objectOf(field(object, "decay"), "decay");
  spec.decay.type = named(decay, "type", caviar::decayFromName);
  spec.decay.rate = number(decay, "rate");
  spec.decay.interval = integer(decay, "interval");
  spec.decay.floor = number(decay, "floor");
  spec.decay.period = integer(decay, "period");
  spec.l2 = number(object, "l2");
  spec.normalize = named(object, "normalize", caviar::normalizationFromName);
  spec.classWeights = floatVector(field(object, "classWeights"), "classWeights");
  return spec;
}

// Rows of a {x, y, rows, features} object, borrowed from its typed arrays: valid while
// the JS object is, so only for synchronous use (an OwnedData copies for background work).
DataView readData(const Napi::Value& value) {
  const Napi::Object object = objectOf(value, "data");
  const Napi::Float32Array x = floats(field(object, "x"), "x");
  const Napi::Float32Array y = floats(field(object, "y"), "y");
  DataView view;
  const double rows = number(object, "rows");
  if (rows != std::floor(rows) || rows < 0 || rows > 9007199254740991.0)
    throwArgument(value.Env(), "'rows' must be a non-negative integer");
  view.rows = static_cast<int64_t>(rows);
  view.features = integer(object, "features");
  if (view.features < 0 || x.ElementLength() != static_cast<size_t>(view.rows) * view.features)
    throw makeError(value.Env(), {caviar::codes::kShapeMismatch,
                                  "x has " + std::to_string(x.ElementLength()) + " values, not rows x features = " +
                                      std::to_string(view.rows) + " x " + std::to_string(view.features)});
  if (view.rows > 0 && y.ElementLength() % view.rows != 0)
    throw makeError(value.Env(), {caviar::codes::kShapeMismatch,
                                  "y has " + std::to_string(y.ElementLength()) +
                                      " values, not a whole number per row for " + std::to_string(view.rows) + " rows"});
  view.targets = view.rows > 0 ? static_cast<int>(y.ElementLength() / view.rows) : 0;
  view.x = x.Data();
  view.y = y.Data();
  return view;
}

struct OwnedData {
  explicit OwnedData(const DataView& view)
      : x(view.x, view.x + view.rows * view.features),
        y(view.y, view.y + view.rows * view.targets),
        rows(view.rows),
        features(view.features),
        targets(view.targets) {}
  DataView view() const { return {x.data(), y.data(), rows, features, targets}; }
  std::vector<float> x, y;
  int64_t rows;
  int features, targets;
};

// ---- Writing JS values ---------------------------------------------------------------

Napi::Float32Array floatArray(Napi::Env env, const float* values, size_t count) {
  Napi::Float32Array array = Napi::Float32Array::New(env, count);
  if (count > 0) std::memcpy(array.Data(), values, count * sizeof(float));
  return array;
}

Napi::Object writePart(Napi::Env env, const PartMetrics& part) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("loss", part.loss);
  if (part.accuracy) object.Set("accuracy", *part.accuracy);
  return object;
}

// A hand-over's epochs as they cross: one row of numbers each, EPOCH_FIELDS in
// src/engine/native.ts's order, then each layer's weight and gradient norms; NaN stands for
// what an epoch has not (an accuracy, the dev part, a rate change). Objects made here, a
// property at a time, cost more than the epochs of a tiny network.
Napi::Float64Array writeEpochs(Napi::Env env, const EpochMetrics* metrics, size_t count) {
  constexpr size_t kFields = 9;
  const size_t stride = count == 0 ? kFields : kFields + 2 * metrics[0].layers.size();
  Napi::Float64Array values = Napi::Float64Array::New(env, count * stride);
  const double absent = std::nan("");
  for (size_t index = 0; index < count; ++index) {
    const EpochMetrics& epoch = metrics[index];
    double* row = values.Data() + index * stride;
    row[0] = epoch.epoch;
    row[1] = epoch.learningRate;
    row[2] = epoch.seconds;
    row[3] = epoch.samplesPerSecond;
    row[4] = epoch.train.loss;
    row[5] = epoch.train.accuracy.value_or(absent);
    row[6] = epoch.dev ? epoch.dev->loss : absent;
    row[7] = epoch.dev ? epoch.dev->accuracy.value_or(absent) : absent;
    row[8] = epoch.appliedRateChange > 0 ? static_cast<double>(epoch.appliedRateChange) : absent;
    for (size_t layer = 0; layer < epoch.layers.size(); ++layer) {
      row[kFields + 2 * layer] = epoch.layers[layer].weightNorm;
      row[kFields + 2 * layer + 1] = epoch.layers[layer].gradNorm;
    }
  }
  return values;
}

Napi::Object writeModel(Napi::Env env, const ModelState& model) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("network", writeNetwork(env, model.network));
  object.Set("normalization", caviar::normalizationName(model.normalization));
  object.Set("shift", floatArray(env, model.shift.data(), model.shift.size()));
  object.Set("scale", floatArray(env, model.scale.data(), model.scale.size()));
  Napi::Array layers = Napi::Array::New(env, model.layers.size());
  for (size_t index = 0; index < model.layers.size(); ++index) {
    const caviar::LayerParameters& entry = model.layers[index];
    Napi::Object layer = Napi::Object::New(env);
    const std::pair<const char*, const std::vector<float>*> parts[] = {
        {"weight", &entry.weight},   {"bias", &entry.bias},
        {"gamma", &entry.gamma},     {"beta", &entry.beta},
        {"runningMean", &entry.runningMean}, {"runningVar", &entry.runningVar}};
    for (const auto& [name, values] : parts) {
      if (!values->empty() || std::strcmp(name, "weight") == 0)
        layer.Set(name, floatArray(env, values->data(), values->size()));
    }
    layers.Set(static_cast<uint32_t>(index), layer);
  }
  object.Set("layers", layers);
  return object;
}

ModelState readModel(const Napi::Value& value) {
  const Napi::Object object = objectOf(value, "model");
  ModelState model;
  model.network = readNetwork(field(object, "network"));
  model.normalization = named(object, "normalization", caviar::normalizationFromName);
  model.shift = floatVector(field(object, "shift"), "shift");
  model.scale = floatVector(field(object, "scale"), "scale");
  const Napi::Value layers = field(object, "layers");
  if (!layers.IsArray()) throwArgument(value.Env(), "'layers' must be an array");
  const Napi::Array array = layers.As<Napi::Array>();
  for (uint32_t index = 0; index < array.Length(); ++index) {
    const Napi::Object layer = objectOf(array.Get(index), "a layer's parameters");
    caviar::LayerParameters entry;
    const auto optional = [&](const char* name) {
      return layer.Has(name) && !layer.Get(name).IsUndefined() ? floatVector(layer.Get(name), name)
                                                                : std::vector<float>();
    };
    entry.weight = floatVector(field(layer, "weight"), "weight");
    entry.bias = optional("bias");
    entry.gamma = optional("gamma");
    entry.beta = optional("beta");
    entry.runningMean = optional("runningMean");
    entry.runningVar = optional("runningVar");
    model.layers.push_back(std::move(entry));
  }
  return model;
}

// ---- Background work -----------------------------------------------------------------

// A promise settled by a background job: Execute runs off the JS thread; `settle` runs on
// it with either the job's result or its Failure.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  // Runs the job, keeping its Failure for the JS thread.
  template <typename Work>
  void run(Work&& work) {
    failure_ = capture(std::forward<Work>(work));
    if (failure_) SetError(failure_->message);
  }
  virtual Napi::Value result() = 0;
  virtual void finish() {}
  void OnOK() override {
    finish();
    deferred_.Resolve(result());
  }
  void OnError(const Napi::Error&) override {
    finish();
    deferred_.Reject(makeError(Env(), *failure_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::optional<Failure> failure_;
};

class TrainerWrap;

// train(): epochs on a background thread, their metrics streamed to the JS thread in the
// session's hand-overs, whose listener the session's gate waits for before the next epoch.
// AsyncProgressQueueWorker delivers each hand-over as one report (the plain
// AsyncProgressWorker may merge them and drop epochs).
class TrainWorker : public Napi::AsyncProgressQueueWorker<EpochMetrics> {
 public:
  TrainWorker(Napi::Env env, TrainerWrap* owner, Napi::Object self, int epochs,
              double reportEverySeconds, Napi::Function onEpochs);
  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override;
  void OnProgress(const EpochMetrics* metrics, size_t count) override;
  void OnOK() override;
  void OnError(const Napi::Error&) override;

 private:
  // When a worker thread's environment is torn down, libuv joins its threads: the run must
  // stop rather than wait for an onEpochs that will never be called.
  static void onTeardown(TrainWorker* worker);
  void settle();

  caviar::Session& session_;
  Napi::ObjectReference self_;  // keeps the trainer alive while it trains
  Napi::FunctionReference onEpochs_;
  Napi::Promise::Deferred deferred_;
  Napi::Env::CleanupHook<void (*)(TrainWorker*), TrainWorker> teardown_;
  int epochs_;
  double reportEverySeconds_;
  int completed_ = 0;
  std::optional<Failure> failure_;
  std::optional<Napi::Error> callbackError_;
};

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Trainer",
                       {InstanceMethod<&TrainerWrap::train>("train"),
                        InstanceMethod<&TrainerWrap::cancel>("cancel"),
                        InstanceMethod<&TrainerWrap::setLearningRate>("setLearningRate"),
                        InstanceMethod<&TrainerWrap::nextLearningRate>("nextLearningRate"),
                        InstanceMethod<&TrainerWrap::epochsDone>("epochsDone"),
                        InstanceMethod<&TrainerWrap::evaluate>("evaluate"),
                        InstanceMethod<&TrainerWrap::checkpoint>("checkpoint"),
                        InstanceMethod<&TrainerWrap::restore>("restore"),
                        InstanceMethod<&TrainerWrap::model>("model")});
  }

  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 4) throwArgument(env, "Trainer(network, training, train, dev) takes 4 arguments");
    const NetworkSpec network = readNetwork(info[0]);
    const TrainingSpec training = readTraining(info[1]);
    const DataView train = readData(info[2]);
    const DataView dev = info[3].IsNull() || info[3].IsUndefined() ? DataView{} : readData(info[3]);
    onJsThread(env, [&] { session_ = std::make_unique<caviar::Session>(network, training, train, dev); });
  }

  caviar::Session& session() { return *session_; }

 private:
  Napi::Value train(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsFunction() || !info[2].IsNumber())
      throwArgument(env, "train(epochs, onEpochs, reportEverySeconds) takes a number, a function and a number");
    const double epochs = info[0].As<Napi::Number>().DoubleValue();
    if (!(epochs >= 1 && epochs <= 1e9) || epochs != std::floor(epochs))
      throwArgument(env, "epochs must be a positive integer");
    const double reportEverySeconds = info[2].As<Napi::Number>().DoubleValue();
    if (!(reportEverySeconds >= 0)) throwArgument(env, "reportEverySeconds must be a non-negative number or Infinity");
    onJsThread(env, [&] { session_->beginRun(); });
    try {
      auto* worker = new TrainWorker(env, this, info.This().As<Napi::Object>(), static_cast<int>(epochs),
                                     reportEverySeconds, info[1].As<Napi::Function>());
      const Napi::Promise promise = worker->promise();
      worker->Queue();
      return promise;
    } catch (...) {
      session_->endRun();
      throw;
    }
  }

  Napi::Value cancel(const Napi::CallbackInfo& info) {
    session_->cancel();
    return info.Env().Undefined();
  }

  // setLearningRate(rate, change?): `change` is the caller's identity for it, reported back
  // by the epoch that applies it.
  Napi::Value setLearningRate(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber() ||
        (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNumber()))
      throwArgument(env, "setLearningRate(rate, change?) takes numbers");
    caviar::RateChange change{info[0].As<Napi::Number>().DoubleValue(), 0};
    if (info.Length() > 1 && info[1].IsNumber()) {
      const double id = info[1].As<Napi::Number>().DoubleValue();
      if (!(id >= 1 && id <= 9007199254740991.0) || id != std::floor(id))
        throwArgument(env, "a rate change's identity must be an integer in [1, 2^53)");
      change.id = static_cast<int64_t>(id);
    }
    onJsThread(env, [&] { session_->setLearningRate(change); });
    return env.Undefined();
  }

  Napi::Value nextLearningRate(const Napi::CallbackInfo& info) {
    double rate = 0;
    onJsThread(info.Env(), [&] { rate = session_->nextLearningRate(); });
    return Napi::Number::New(info.Env(), rate);
  }

  Napi::Value epochsDone(const Napi::CallbackInfo& info) {
    int epochs = 0;
    onJsThread(info.Env(), [&] { epochs = session_->epochsDone(); });
    return Napi::Number::New(info.Env(), epochs);
  }

  Napi::Value evaluate(const Napi::CallbackInfo& info);

  Napi::Value checkpoint(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    std::vector<uint8_t> bytes;
    onJsThread(env, [&] { bytes = session_->checkpoint(); });
    Napi::Uint8Array array = Napi::Uint8Array::New(env, bytes.size());
    if (!bytes.empty()) std::memcpy(array.Data(), bytes.data(), bytes.size());
    return array;
  }

  Napi::Value restore(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throwArgument(env, "restore(bytes) takes a Uint8Array");
    const Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
    onJsThread(env, [&] { session_->restore(bytes.Data(), bytes.ElementLength()); });
    return env.Undefined();
  }

  Napi::Value model(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    ModelState state;
    onJsThread(env, [&] { state = session_->model(); });
    return writeModel(env, state);
  }

  std::unique_ptr<caviar::Session> session_;
};

TrainWorker::TrainWorker(Napi::Env env, TrainerWrap* owner, Napi::Object self, int epochs,
                         double reportEverySeconds, Napi::Function onEpochs)
    : Napi::AsyncProgressQueueWorker<EpochMetrics>(env),
      session_(owner->session()),
      self_(Napi::Persistent(self)),
      onEpochs_(Napi::Persistent(onEpochs)),
      deferred_(Napi::Promise::Deferred::New(env)),
      teardown_(env.AddCleanupHook(&TrainWorker::onTeardown, this)),
      epochs_(epochs),
      reportEverySeconds_(reportEverySeconds) {}

void TrainWorker::onTeardown(TrainWorker* worker) { worker->session_.stop(); }

void TrainWorker::Execute(const ExecutionProgress& progress) {
  failure_ = capture([&] {
    completed_ = session_.runEpochs(epochs_, reportEverySeconds_, [&](const std::vector<EpochMetrics>& batch) {
      progress.Send(batch.data(), batch.size());
    });
  });
  if (failure_) SetError(failure_->message);
}

void TrainWorker::OnProgress(const EpochMetrics* metrics, size_t count) {
  const Napi::Env env = Env();
  session_.betweenEpochs([&] {
    try {
      onEpochs_.Call({writeEpochs(env, metrics, count), Napi::Number::New(env, static_cast<double>(count))});
    } catch (const Napi::Error& error) {
      // The listener threw: stop training and reject with its error once the thread ends.
      callbackError_ = error;
      session_.cancel();
    }
  });
}

void TrainWorker::settle() {
  teardown_.Remove(Env());
  session_.endRun();
}

void TrainWorker::OnOK() {
  settle();
  if (callbackError_) return deferred_.Reject(callbackError_->Value());
  deferred_.Resolve(Napi::Number::New(Env(), completed_));
}

void TrainWorker::OnError(const Napi::Error&) {
  settle();
  if (callbackError_) return deferred_.Reject(callbackError_->Value());
  deferred_.Reject(makeError(Env(), *failure_).Value());
}

class EvaluateWorker : public PromiseWorker {
 public:
  EvaluateWorker(Napi::Env env, caviar::Session& session, Napi::Object self, const DataView& data)
      : PromiseWorker(env), session_(session), self_(Napi::Persistent(self)), data_(data) {}

 protected:
  void Execute() override { run([&] { metrics_ = session_.evaluate(data_.view()); }); }
  Napi::Value result() override { return writePart(Env(), metrics_); }
  void finish() override { session_.endEvaluation(); }

 private:
  caviar::Session& session_;
  Napi::ObjectReference self_;
  OwnedData data_;
  PartMetrics metrics_;
};

Napi::Value TrainerWrap::evaluate(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1) throwArgument(env, "evaluate(data) takes the data to evaluate");
  onJsThread(env, [&] { session_->beginEvaluation(); });
  try {
    auto* worker = new EvaluateWorker(env, *session_, info.This().As<Napi::Object>(), readData(info[0]));
    const Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  } catch (...) {
    session_->endEvaluation();
    throw;
  }
}

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Model", {InstanceMethod<&ModelWrap::predict>("predict")});
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    if (info.Length() < 1) throwArgument(info.Env(), "Model(state) takes the model's state");
    ModelState state = readModel(info[0]);
    onJsThread(info.Env(), [&] { model_ = std::make_unique<caviar::Model>(std::move(state)); });
  }

  // Predictions share the model's buffers, so concurrent calls take turns.
  void predict(const std::vector<float>& x, int64_t rows, std::vector<float>& outputs) {
    std::lock_guard<std::mutex> lock(mutex_);
    model_->predict(x.data(), rows, outputs.data());
  }
  int outputUnits() const { return model_->state().network.layers.back().units; }
  int inputs() const { return model_->state().network.inputs; }

 private:
  Napi::Value predict(const Napi::CallbackInfo& info);

  std::unique_ptr<caviar::Model> model_;
  std::mutex mutex_;
};

class PredictWorker : public PromiseWorker {
 public:
  PredictWorker(Napi::Env env, ModelWrap* owner, Napi::Object self, std::vector<float> x, int64_t rows)
      : PromiseWorker(env),
        owner_(owner),
        self_(Napi::Persistent(self)),
        x_(std::move(x)),
        rows_(rows),
        outputs_(static_cast<size_t>(rows) * owner->outputUnits()) {}

 protected:
  void Execute() override { run([&] { owner_->predict(x_, rows_, outputs_); }); }
  Napi::Value result() override { return floatArray(Env(), outputs_.data(), outputs_.size()); }

 private:
  ModelWrap* owner_;
  Napi::ObjectReference self_;
  std::vector<float> x_;
  int64_t rows_;
  std::vector<float> outputs_;
};

Napi::Value ModelWrap::predict(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsNumber()) throwArgument(env, "predict(x, rows) takes a Float32Array and a number");
  const double rows = info[1].As<Napi::Number>().DoubleValue();
  if (rows != std::floor(rows) || rows < 0 || rows > 9007199254740991.0)
    throwArgument(env, "rows must be a non-negative integer");
  const auto count = static_cast<int64_t>(rows);
  std::vector<float> x = floatVector(info[0], "x");
  if (x.size() != static_cast<size_t>(count) * inputs())
    throw makeError(env, {caviar::codes::kShapeMismatch,
                          "x has " + std::to_string(x.size()) + " values, not rows x inputs = " +
                              std::to_string(count) + " x " + std::to_string(inputs())});
  auto* worker = new PredictWorker(env, this, info.This().As<Napi::Object>(), std::move(x), count);
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

class GradCheckWorker : public PromiseWorker {
 public:
  GradCheckWorker(Napi::Env env, NetworkSpec network, double l2, std::vector<float> classWeights,
                  const DataView& data, uint64_t seed, double epsilon, int64_t coordinatesPerTensor)
      : PromiseWorker(env), network_(std::move(network)), l2_(l2), classWeights_(std::move(classWeights)),
        data_(data), seed_(seed), epsilon_(epsilon), coordinatesPerTensor_(coordinatesPerTensor) {}

 protected:
  void Execute() override {
    run([&] {
      result_ = caviar::gradCheck(network_, l2_, classWeights_, data_.view(), seed_, epsilon_,
                                  coordinatesPerTensor_);
    });
  }
  Napi::Value result() override {
    const Napi::Env env = Env();
    Napi::Object object = Napi::Object::New(env);
    object.Set("difference", result_.difference);
    Napi::Array layers = Napi::Array::New(env, result_.layers.size());
    for (size_t index = 0; index < result_.layers.size(); ++index)
      layers.Set(static_cast<uint32_t>(index), result_.layers[index]);
    object.Set("layers", layers);
    object.Set("parameters", static_cast<double>(result_.parameters));
    object.Set("checked", static_cast<double>(result_.checked));
    return object;
  }

 private:
  NetworkSpec network_;
  double l2_;
  std::vector<float> classWeights_;
  OwnedData data_;
  uint64_t seed_;
  double epsilon_;
  int64_t coordinatesPerTensor_;
  caviar::GradCheckResult result_;
};

Napi::Value gradCheck(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[1].IsNumber() || !info[4].IsNumber() || !info[5].IsNumber() ||
      !info[6].IsNumber())
    throwArgument(env, "gradCheck(network, l2, classWeights, data, seed, epsilon, coordinatesPerTensor)");
  NetworkSpec network = readNetwork(info[0]);
  std::vector<float> classWeights = floatVector(info[2], "classWeights");
  const DataView data = readData(info[3]);
  const double seed = info[4].As<Napi::Number>().DoubleValue();
  if (!(seed >= 0 && seed <= 9007199254740991.0) || seed != std::floor(seed))
    throwArgument(env, "seed must be an integer in [0, 2^53)");
  const double coordinates = info[6].As<Napi::Number>().DoubleValue();
  if (!(coordinates >= 0 && coordinates <= 9007199254740991.0) || coordinates != std::floor(coordinates))
    throwArgument(env, "coordinatesPerTensor must be an integer in [0, 2^53) (0: all)");
  auto* worker = new GradCheckWorker(env, std::move(network), info[1].As<Napi::Number>().DoubleValue(),
                                     std::move(classWeights), data, static_cast<uint64_t>(seed),
                                     info[5].As<Napi::Number>().DoubleValue(), static_cast<int64_t>(coordinates));
  const Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value blasInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), caviar::blasInfo());
}

Napi::Object initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("Trainer", TrainerWrap::define(env));
  exports.Set("Model", ModelWrap::define(env));
  exports.Set("gradCheck", Napi::Function::New(env, gradCheck, "gradCheck"));
  exports.Set("blasInfo", Napi::Function::New(env, blasInfo, "blasInfo"));
  return exports;
}

}  // namespace

NODE_API_MODULE(caviar, initialize)
