//===- Audio.cpp - audio files to encoder input for modrwkv-run -----------===//

#include "Audio.h"
#include "Wav.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kMinRate = 1000, kMaxRate = 768000;

/// Slaney's mel scale (librosa's default, Whisper's filters): 200/3 Hz per
/// mel up to 1 kHz (15 mel), logarithmic above: log steps of ln(6.4) / 27.
constexpr double kHzPerMel = 200.0 / 3, kLogStep = 0.06875177742094912;

double hzToMel(double hz) {
  return hz < 1000.0 ? hz / kHzPerMel : 15.0 + std::log(hz / 1000.0) / kLogStep;
}

double melToHz(double mel) {
  return mel < 15.0 ? mel * kHzPerMel
                    : 1000.0 * std::exp(kLogStep * (mel - 15.0));
}

/// Triangular filters between mel-spaced edges, each normalized to unit
/// area in Hz (Slaney): [bins][nFft / 2 + 1].
std::vector<double> melFilters(const LogMelConfig &c) {
  int64_t freqs = c.nFft / 2 + 1;
  double top = hzToMel(c.rate / 2.0);
  std::vector<double> edges(c.bins + 2);
  for (int64_t i = 0; i < c.bins + 2; ++i)
    edges[i] = melToHz(top * double(i) / double(c.bins + 1));
  std::vector<double> filters(c.bins * freqs, 0.0);
  for (int64_t m = 0; m < c.bins; ++m) {
    double lo = edges[m], mid = edges[m + 1], hi = edges[m + 2];
    double norm = 2.0 / (hi - lo);
    for (int64_t k = 0; k < freqs; ++k) {
      double hz = double(k) * c.rate / double(c.nFft);
      double up = (hz - lo) / (mid - lo), down = (hi - hz) / (hi - mid);
      filters[m * freqs + k] = std::max(0.0, std::min(up, down)) * norm;
    }
  }
  return filters;
}

} // namespace

std::vector<double> resample(const std::vector<double> &x, int64_t from,
                             int64_t to) {
  if (from == to)
    return x;
  constexpr double width = 6.0, rolloff = 0.99;
  // In units of the input's sample period: the cutoff frequency and the
  // half-length of the windowed sinc.
  double cutoff = double(std::min(from, to)) * rolloff / double(from);
  double half = width / cutoff;
  int64_t n = int64_t(x.size());
  int64_t out = (n * to + from - 1) / from;
  std::vector<double> y(out);
  for (int64_t i = 0; i < out; ++i) {
    // Output i sits at input position i * from / to = (i * from) / to.
    int64_t num = i * from;
    double center = double(num) / double(to);
    int64_t first = std::max<int64_t>(0, int64_t(std::ceil(center - half)));
    int64_t last = std::min<int64_t>(n - 1, int64_t(std::floor(center + half)));
    double sum = 0.0;
    for (int64_t j = first; j <= last; ++j) {
      // Distance in input samples, exact as a fraction over `to`.
      double d = double(j * to - num) / double(to);
      double u = d * cutoff;
      if (std::fabs(u) > width)
        continue;
      double w = std::cos(kPi * u / (2.0 * width));
      double s = u == 0.0 ? 1.0 : std::sin(kPi * u) / (kPi * u);
      sum += x[j] * s * w * w;
    }
    y[i] = sum * cutoff;
  }
  return y;
}

std::vector<float> logMel(const std::vector<double> &x, const LogMelConfig &c) {
  int64_t samples = c.frames * c.hop, freqs = c.nFft / 2 + 1;
  std::vector<double> padded(x.begin(),
                             x.begin() + std::min<int64_t>(x.size(), samples));
  padded.resize(samples, 0.0);
  // Centered frames read n_fft / 2 samples past both ends, reflected.
  auto at = [&](int64_t i) {
    if (i < 0)
      i = -i;
    if (i >= samples)
      i = 2 * (samples - 1) - i;
    return padded[i];
  };
  std::vector<double> window(c.nFft), cosines(freqs * c.nFft),
      sines(freqs * c.nFft);
  for (int64_t n = 0; n < c.nFft; ++n)
    window[n] = 0.5 - 0.5 * std::cos(2.0 * kPi * n / double(c.nFft));
  for (int64_t k = 0; k < freqs; ++k)
    for (int64_t n = 0; n < c.nFft; ++n) {
      // (k * n) mod n_fft keeps the angle small and exact.
      double angle = 2.0 * kPi * double((k * n) % c.nFft) / double(c.nFft);
      cosines[k * c.nFft + n] = std::cos(angle);
      sines[k * c.nFft + n] = std::sin(angle);
    }
  std::vector<double> filters = melFilters(c);
  std::vector<double> mel(c.bins * c.frames), frame(c.nFft), power(freqs);
  for (int64_t t = 0; t < c.frames; ++t) {
    for (int64_t n = 0; n < c.nFft; ++n)
      frame[n] = at(t * c.hop - c.nFft / 2 + n) * window[n];
    for (int64_t k = 0; k < freqs; ++k) {
      double re = 0.0, im = 0.0;
      const double *cs = &cosines[k * c.nFft], *sn = &sines[k * c.nFft];
      for (int64_t n = 0; n < c.nFft; ++n) {
        re += frame[n] * cs[n];
        im += frame[n] * sn[n];
      }
      power[k] = re * re + im * im;
    }
    for (int64_t m = 0; m < c.bins; ++m)
      mel[m * c.frames + t] = std::log10(
          std::max(1e-10, std::inner_product(power.begin(), power.end(),
                                             &filters[m * freqs], 0.0)));
  }
  double top = *std::max_element(mel.begin(), mel.end());
  std::vector<float> out(mel.size());
  for (size_t i = 0; i < mel.size(); ++i)
    out[i] = float((std::max(mel[i], top - 8.0) + 4.0) / 4.0);
  return out;
}

bool loadAudio(const std::string &path, const nlohmann::json &preprocess,
               std::vector<float> &values, std::string &error) {
  Clip clip;
  if (!readWav(path, clip, error))
    return false;
  if (clip.rate < kMinRate || clip.rate > kMaxRate) {
    error = path + ": sample rate " + std::to_string(clip.rate) +
            " Hz is outside " + std::to_string(kMinRate) + ".." +
            std::to_string(kMaxRate) + " Hz";
    return false;
  }
  int64_t rate = preprocess.value("sampling_rate", int64_t(16000));
  int64_t samples = preprocess.value("samples", int64_t(0));
  std::vector<double> x = resample(clip.samples, clip.rate, rate);
  auto seconds = [&](int64_t n) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.3f s", double(n) / double(rate));
    return std::string(text);
  };
  if (preprocess.value("kind", "") == "log-mel") {
    LogMelConfig c;
    c.rate = rate;
    c.nFft = preprocess.value("n_fft", c.nFft);
    c.hop = preprocess.value("hop", c.hop);
    c.bins = preprocess.value("mel_bins", c.bins);
    c.frames = preprocess.value("frames", c.frames);
    // Whisper's definition: the clip is cut to the window it was trained on.
    if (int64_t(x.size()) > c.frames * c.hop)
      std::fprintf(stderr,
                   "modrwkv-run: %s: %s long, the tower's window is %s: the "
                   "rest is cut, as Whisper does\n",
                   path.c_str(), seconds(x.size()).c_str(),
                   seconds(c.frames * c.hop).c_str());
    values = logMel(x, c);
    return true;
  }
  if (int64_t(x.size()) > samples) {
    error = path + ": " + seconds(x.size()) + " long, the tower takes at " +
            "most " + seconds(samples) + " (" + std::to_string(samples) +
            " samples at " + std::to_string(rate) + " Hz)";
    return false;
  }
  if (preprocess.value("normalize", false) && !x.empty()) {
    double mean = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
    double var = 0.0;
    for (double v : x)
      var += (v - mean) * (v - mean);
    double scale = 1.0 / std::sqrt(var / x.size() + 1e-7);
    for (double &v : x)
      v = (v - mean) * scale;
  }
  values.assign(samples, 0.0f);
  std::copy(x.begin(), x.end(), values.begin());
  return true;
}
