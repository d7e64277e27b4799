// The Transformer on the GPU (cuda_transformer.h). Layout and order of operations are the CPU
// Transformer's (nn/transformer.cc and the modules it uses), one device kernel per step:
//
//   embed:      x [N, D] = scale · table[id] + PE(position)                 embedding_forward
//   sub-layer:  post-norm x = LN(F(x) + x), pre-norm x = x + F(LN(x))      the residual is added
//               (without `residual`, the "+ x" is dropped)                 by F's last product
//   attention:  qkv [N, 3D] = in · in_projᵀ + b; softmax(scale·QKᵀ)V, each row's log-sum-exp
//               kept; out_proj                                             gemm, attention_forward
//   FFN:        act(in · W1ᵀ + b1) · W2ᵀ + b2 (ReLU in the product's epilogue, GELU after it)
//   generator:  logits [N, V] = LN(x) · Wᵀ + b, in fp32 whatever the precision
//
// Decoding keeps per layer a self-attention cache [rows, capacity, 2·D] (K|V of the positions
// fed so far) and the cross-attention K|V of the source [rows, Ts, 2·D], all on the device. The
// attention maps are not written by the forward: each attention call leaves an AttnRecord (its
// Q and K views, masks and log-sum-exp), and attention_heads() recovers the weights of the heads
// asked for from it (cuda::attention_weights), exactly.
#include "nn/cuda/cuda_transformer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/bf16.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/kv_cache.h"
#include "kernels/cuda/layernorm.h"
#include "kernels/cuda/log_softmax.h"
#include "nn/cuda/cuda_plan.h"
#include "nn/cuda/device_memory.h"
#include "nn/model_config.h"

namespace attnscope {

namespace {

using cuda::DType;
using cuda_model::Block;
using cuda_model::BlockPtr;
using cuda_model::DeviceContext;
using cuda_model::ensure;
using cuda_model::Plan;

// Copies of host data to and from the device on the context's stream.
void copy_to_device(const DeviceContext& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  ATTN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream()));
}
void copy_to_host(const DeviceContext& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  ATTN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.sync();
}

// A linear layer on the device: y [N, out] = x [N, in] · wᵀ + b; b has the output's type.
struct Lin {
  const void* w = nullptr;  // [out, in]
  const void* b = nullptr;  // [out] or null
  int64_t in = 0, out = 0;
  DType out_type = DType::kF32;
};
struct Norm {
  const float* gamma = nullptr;
  const float* beta = nullptr;
};
struct EncoderWeights {
  Lin qkv, attn_out, ff1, ff2;
  Norm norm1, norm2;
};
struct DecoderWeights {
  Lin self_qkv, self_out, cross_q, cross_kv, cross_out, ff1, ff2;
  Norm norm1, norm2, norm3;
};

// What one attention call leaves for its weights to be recovered: the shape and masks, the Q and K
// views, the log-sum-exp, the path the forward took, and the blocks all of these live in.
struct AttnRecord {
  cuda::DeviceAttentionShape shape;
  cuda::DeviceHeads q, k;
  const float* lse = nullptr;  // [B, H, Tq]
  cuda::AttentionPath path = cuda::AttentionPath::kRows;
  std::vector<BlockPtr> keep;
  bool valid = false;
};

// The decoding state on the device (DecoderState): per layer the self-attention cache
// [rows, capacity, 2·D] and the cross-attention K|V [rows, Ts, 2·D], the source padding
// [rows, Ts]. Reordering copies into new blocks, so a record of the last step still reads the
// cache it attended over.
struct CudaDecoderState final : DecoderState {
  std::shared_ptr<DeviceContext> ctx;
  DType type = DType::kBF16;
  int64_t rows = 0, src_len = 0, steps = 0, capacity = 0, width = 0;  // width = 2·D
  std::vector<BlockPtr> self_kv, cross_kv;
  BlockPtr memory_padding;
  const void* owner = nullptr;  // the model that made it

  void reorder(const std::vector<int64_t>& from) override {
    const auto n = static_cast<int64_t>(from.size());
    ATTN_CHECK(n >= 1, "cache reorder: no rows left (a cache of {})", rows);
    bool identity = n == rows;
    for (int64_t r = 0; r < n && identity; ++r) identity = from[static_cast<size_t>(r)] == r;
    if (identity) return;
    std::vector<int32_t> index(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) {
      const int64_t f = from[static_cast<size_t>(r)];
      ATTN_CHECK(f >= 0 && f < rows, "cache reorder: row {} of a cache of {}", f, rows);
      index[static_cast<size_t>(r)] = static_cast<int32_t>(f);
    }
    ATTN_CHECK(n <= 65535, "cache reorder: {} rows exceed the GPU's 65535", n);
    auto idx = std::make_shared<Block>(ctx, index.size() * sizeof(int32_t));
    copy_to_device(*ctx, idx->data(), index.data(), index.size() * sizeof(int32_t));
    const auto* ix = static_cast<const int32_t*>(idx->data());
    const auto elem = static_cast<int64_t>(cuda::dtype_size(type));
    for (BlockPtr& kv : self_kv) {
      auto to = std::make_shared<Block>(ctx, static_cast<size_t>(n * capacity * width * elem));
      cuda::kv_reorder(cuda::KvCacheView{kv->data(), type, rows, capacity, width},
                       cuda::KvCacheView{to->data(), type, n, capacity, width}, ix, steps,
                       ctx->stream());
      kv = std::move(to);
    }
    // With as many rows, beams move only within their sentence, whose rows share one source: the
    // cross K|V and the padding stay. With fewer (finished sentences dropped) they move too.
    if (n != rows) {
      const int64_t row_bytes = src_len * width * elem;
      for (BlockPtr& kv : cross_kv) {
        auto to = std::make_shared<Block>(ctx, static_cast<size_t>(n * row_bytes));
        cuda::copy_rows(to->data(), row_bytes, kv->data(), row_bytes, ix, n, row_bytes,
                        ctx->stream());
        kv = std::move(to);
      }
      auto pad = std::make_shared<Block>(ctx, static_cast<size_t>(n * src_len));
      cuda::copy_rows(pad->data(), src_len, memory_padding->data(), src_len, ix, n, src_len,
                      ctx->stream());
      memory_padding = std::move(pad);
    }
    rows = n;
    // idx goes back to the allocator as used on the stream: the copies above are queued first.
  }
};

class CudaTransformer final : public Seq2SeqModel {
 public:
  CudaTransformer(std::unique_ptr<Seq2SeqModel> host, Precision precision)
      : host_(std::move(host)),
        cfg_(dynamic_cast<const ModelConfig&>(host_->config())),
        plan_(cuda_model::plan_of(cfg_)),
        type_(precision == Precision::kBf16 ? DType::kBF16 : DType::kF32),
        elem_(static_cast<int64_t>(cuda::dtype_size(type_))),
        ctx_(std::make_shared<DeviceContext>()) {
    upload_weights();
    const cuda::DeviceInfo& d = cuda::current_device_info();
    device_ = fmt::format("cuda:{} ({}, {})", d.device, d.name, precision_name(precision));
  }

  ModelInfo info() const override {
    ModelInfo i = host_->info();
    i.device = device_;
    i.on_device = true;
    // The device kernels have no head gates and no backward: --mask-heads and attribution
    // refuse (Seq2SeqModel's defaults say to run the model on the CPU).
    i.head_gates = false;
    i.input_gradients = false;
    return i;
  }
  const ArchConfig& config() const override { return host_->config(); }

  // Training stays on the CPU (a later step of issue 19).
  void init_weights(uint64_t) override { training_refused("initialise weights"); }
  void visit_params(const ParamVisitor& f) override { host_->visit_params(f); }
  int64_t num_params() override { return host_->num_params(); }
  void alloc_grads() override { training_refused("allocate gradients"); }
  void zero_grads() override { training_refused("zero gradients"); }
  void backward(const Tensor&) override { training_refused("run backward"); }
  void check_extra_tensor(const std::string& file, const std::string& name,
                          const Tensor& t) const override {
    host_->check_extra_tensor(file, name, t);
  }
  std::string unexpected_tensor_hint(const std::string& name) const override {
    return host_->unexpected_tensor_hint(name);
  }
  int64_t num_layers(AttentionKind kind) const override { return host_->num_layers(kind); }

  const Tensor& forward(const TokenBatch& src, const TokenBatch& tgt_in,
                        const ForwardOptions& o) override;
  std::unique_ptr<DecoderState> start_decoding(const TokenBatch& src, int64_t expand,
                                               int64_t max_steps) override;
  const Tensor& decode_step(DecoderState& state, const std::vector<int32_t>& tokens) override;
  void decode_step_topk(DecoderState& state, const std::vector<int32_t>& tokens,
                        const StepTopKRequest& request, StepTopK& out) override;

  const Tensor& attention(AttentionKind kind, int64_t layer) const override;
  Tensor attention_heads(AttentionKind kind, int64_t layer,
                         const std::vector<int64_t>& heads) const override;
  Tensor attention_values(AttentionKind kind, int64_t layer) const override;
  const Tensor& attention_output_weight(AttentionKind kind, int64_t layer) const override {
    return host_->attention_output_weight(kind, layer);
  }

 private:
  [[noreturn]] void training_refused(const char* what) const {
    fail("cannot {} on the GPU: --device cuda runs inference only (train with --device cpu)", what);
  }

  // ---- weights ----
  const Tensor& param(const std::string& name) const;
  void* upload(const std::string& name, const float* src, int64_t n, DType type);
  Lin linear(const std::string& prefix, const char* weight, const char* bias, int64_t row0,
             int64_t rows, DType out_type);
  Norm norm(const std::string& prefix);
  void upload_weights();

  // ---- the building blocks, on ctx_->stream() ----
  void* at(void* base, int64_t elems) const { return static_cast<char*>(base) + elems * elem_; }
  void gemm(const void* x, int64_t rows, const Lin& w, void* y, const void* residual,
            bool relu = false);
  void layernorm(const void* x, int64_t rows, const Norm& n, void* y);
  template <typename Sublayer>
  void residual_block(void* x, int64_t rows, const Norm& n, Sublayer&& f);
  void ffn(const void* in, int64_t rows, const Lin& ff1, const Lin& ff2, void* out,
           const void* residual);
  AttnRecord attend(const cuda::DeviceAttentionShape& s, const cuda::DeviceHeads& q,
                    const cuda::DeviceHeads& k, const cuda::DeviceHeads& v, void* ctx_out,
                    BlockPtr& lse, std::vector<BlockPtr> keep);
  void embed(const std::vector<int32_t>& ids, const char* side, int64_t vocab, const void* table,
             int64_t seq_len, int64_t pos_offset, BlockPtr& ids_buf, void* out);
  BlockPtr padding_mask(const TokenBatch& t, int64_t expand);
  void encode(const TokenBatch& src);
  void run_step(CudaDecoderState& s, const std::vector<int32_t>& tokens);
  CudaDecoderState& state_of(DecoderState& state) const;
  // A new forward, encoding or step: every map attention() handed out is recomputed when next
  // asked for (in place, so a reference a caller holds stays valid, as on the CPU).
  void clear_maps() { ++generation_; }
  Tensor recover(const AttnRecord& r, const std::vector<int64_t>& heads, const char* what) const;

  std::unique_ptr<Seq2SeqModel> host_;
  const ModelConfig& cfg_;
  Plan plan_;
  DType type_;
  int64_t elem_;
  std::shared_ptr<DeviceContext> ctx_;
  cuda::Gemm gemm_;
  std::string device_;
  std::map<std::string, const Param*> params_;

  // Weights (each a block of weights_).
  std::vector<BlockPtr> weights_;
  const void* src_table_ = nullptr;  // [src_vocab, D]
  const void* tgt_table_ = nullptr;  // [tgt_vocab, D]
  std::vector<EncoderWeights> enc_;
  std::vector<DecoderWeights> dec_;
  Norm enc_norm_, dec_norm_;
  Lin generator_;  // fp32 output and bias

  // Scratch of one call [N, ·]: the residual stream, a normed copy, a sub-layer's output, the
  // attention context, the FFN hidden layer, token ids; logits [N, V] fp32.
  BlockPtr x_, normed_, tmp_, ctx_buf_, hidden_, ids_, tgt_ids_, logits_buf_;
  BlockPtr memory_, src_padding_, tgt_padding_, step_offsets_, topk_values_, topk_ids_;
  int64_t src_rows_ = 0, src_len_ = 0;  // the encoded batch
  // Per layer (kept for the attention records): Q|K|V or Q, K|V, log-sum-exp.
  std::vector<BlockPtr> enc_qkv_, enc_lse_;
  // Decoder: self Q|K|V ([N, 3·D] in forward, [rows, 3·D] in a step), cross Q, cross K|V of the
  // forward (a step reads the state's).
  std::vector<BlockPtr> dec_self_qkv_, dec_cross_q_, dec_cross_kv_, dec_self_lse_, dec_cross_lse_;

  std::vector<AttnRecord> enc_rec_, self_rec_, cross_rec_;
  // The last forward (full maps, value vectors readable) or decode step ([rows, H, 1, Tk]).
  bool last_was_forward_ = false;
  Tensor logits_;
  struct KeptMap {
    uint64_t generation = 0;
    Tensor weights;
  };
  uint64_t generation_ = 1;
  mutable std::map<std::pair<int, int64_t>, KeptMap> maps_;  // attention() of the last call
};

// ---- weights ----

const Tensor& CudaTransformer::param(const std::string& name) const {
  auto it = params_.find(name);
  ATTN_CHECK(it != params_.end(), "--device cuda: the model has no parameter \"{}\"", name);
  return it->second->value;
}

// n values of the parameter `name` in `type`; a value that is not finite (or becomes infinite in
// bf16) is refused, naming the tensor and the index.
void* CudaTransformer::upload(const std::string& name, const float* src, int64_t n, DType type) {
  for (int64_t i = 0; i < n; ++i) {
    const bool finite = std::isfinite(type == DType::kF32 ? src[i] : cuda::round_to_bf16(src[i]));
    ATTN_CHECK(finite, "--device cuda: parameter \"{}\" holds {} at index {}{}", name, src[i], i,
               std::isfinite(src[i]) ? ", which is infinite in bf16 (try --precision fp32)" : "");
  }
  const size_t bytes = static_cast<size_t>(n) * cuda::dtype_size(type);
  weights_.push_back(std::make_shared<Block>(ctx_, bytes));
  void* dst = weights_.back()->data();
  if (type == DType::kF32) {
    copy_to_device(*ctx_, dst, src, bytes);
  } else {
    std::vector<cuda::Bf16> h(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) h[static_cast<size_t>(i)] = cuda::to_bf16(src[i]);
    copy_to_device(*ctx_, dst, h.data(), bytes);
  }
  return dst;
}

// Rows [row0, row0 + rows) of `prefix.weight` [*, in] and of its bias (PyTorch packs Q, K and V
// of one attention in in_proj_weight [3·D, D]).
Lin CudaTransformer::linear(const std::string& prefix, const char* weight, const char* bias,
                            int64_t row0, int64_t rows, DType out_type) {
  const Tensor& w = param(prefix + weight);
  ATTN_CHECK(w.rank() == 2 && (row0 + rows) <= w.dim(0), "--device cuda: {}{} is {}", prefix,
             weight, w.shape_str());
  Lin l;
  l.in = w.dim(1);
  l.out = rows;
  l.out_type = out_type;
  l.w = upload(prefix + weight, w.data() + row0 * l.in, rows * l.in, type_);
  if (bias != nullptr)
    l.b = upload(prefix + bias, param(prefix + bias).data() + row0, rows, out_type);
  return l;
}

Norm CudaTransformer::norm(const std::string& prefix) {
  Norm n;
  const Tensor& g = param(prefix + ".weight");
  const Tensor& b = param(prefix + ".bias");
  n.gamma = static_cast<const float*>(upload(prefix + ".weight", g.data(), g.numel(), DType::kF32));
  n.beta = static_cast<const float*>(upload(prefix + ".bias", b.data(), b.numel(), DType::kF32));
  return n;
}

void CudaTransformer::upload_weights() {
  host_->visit_params([&](Param& p) { params_[p.name] = &p; });
  const int64_t D = plan_.d_model;
  auto table = [&](const char* name) {
    const Tensor& t = param(name);
    return upload(name, t.data(), t.numel(), type_);
  };
  tgt_table_ = table("tgt_embed.weight");
  src_table_ = plan_.share_embeddings ? tgt_table_ : table("src_embed.weight");
  for (int64_t l = 0; l < plan_.encoder_layers; ++l) {
    const std::string p = fmt::format("encoder.layers.{}.", l);
    EncoderWeights w;
    w.qkv = linear(p + "self_attn", ".in_proj_weight", ".in_proj_bias", 0, 3 * D, type_);
    w.attn_out = linear(p + "self_attn.out_proj", ".weight", ".bias", 0, D, type_);
    w.ff1 = linear(p + "linear1", ".weight", ".bias", 0, plan_.d_ff, type_);
    w.ff2 = linear(p + "linear2", ".weight", ".bias", 0, D, type_);
    w.norm1 = norm(p + "norm1");
    w.norm2 = norm(p + "norm2");
    enc_.push_back(w);
  }
  for (int64_t l = 0; l < plan_.decoder_layers; ++l) {
    const std::string p = fmt::format("decoder.layers.{}.", l);
    DecoderWeights w;
    w.self_qkv = linear(p + "self_attn", ".in_proj_weight", ".in_proj_bias", 0, 3 * D, type_);
    w.self_out = linear(p + "self_attn.out_proj", ".weight", ".bias", 0, D, type_);
    w.cross_q = linear(p + "multihead_attn", ".in_proj_weight", ".in_proj_bias", 0, D, type_);
    w.cross_kv = linear(p + "multihead_attn", ".in_proj_weight", ".in_proj_bias", D, 2 * D, type_);
    w.cross_out = linear(p + "multihead_attn.out_proj", ".weight", ".bias", 0, D, type_);
    w.ff1 = linear(p + "linear1", ".weight", ".bias", 0, plan_.d_ff, type_);
    w.ff2 = linear(p + "linear2", ".weight", ".bias", 0, D, type_);
    w.norm1 = norm(p + "norm1");
    w.norm2 = norm(p + "norm2");
    w.norm3 = norm(p + "norm3");
    dec_.push_back(w);
  }
  if (plan_.final_norms) {
    enc_norm_ = norm("encoder.norm");
    dec_norm_ = norm("decoder.norm");
  }
  // The generator: its own weight, or the target table (tie_output); logits in fp32.
  generator_.in = D;
  generator_.out = plan_.tgt_vocab;
  generator_.out_type = DType::kF32;
  generator_.w = plan_.tie_output ? tgt_table_ : table("generator.weight");
  if (plan_.generator_bias) {
    const Tensor& b = param("generator.bias");
    generator_.b = upload("generator.bias", b.data(), b.numel(), DType::kF32);
  }
  enc_qkv_.resize(static_cast<size_t>(plan_.encoder_layers));
  enc_lse_.resize(enc_qkv_.size());
  enc_rec_.resize(enc_qkv_.size());
  for (auto* v : {&dec_self_qkv_, &dec_cross_q_, &dec_cross_kv_, &dec_self_lse_, &dec_cross_lse_})
    v->resize(static_cast<size_t>(plan_.decoder_layers));
  self_rec_.resize(static_cast<size_t>(plan_.decoder_layers));
  cross_rec_.resize(self_rec_.size());
  ctx_->sync();
}

// ---- building blocks ----

void CudaTransformer::gemm(const void* x, int64_t rows, const Lin& w, void* y, const void* residual,
                           bool relu) {
  cuda::GemmArgs g;
  g.M = rows;
  g.N = w.out;
  g.K = w.in;
  g.in = type_;
  g.x = x;
  g.ldx = w.in;
  g.w = w.w;
  g.ldw = w.in;
  g.out = w.out_type;
  g.y = y;
  g.ldy = w.out;
  g.bias = w.b;
  g.residual = residual;
  g.epilogue = relu ? cuda::GemmEpilogue::kRelu : cuda::GemmEpilogue::kNone;
  gemm_.run(g, ctx_->stream());
}

void CudaTransformer::layernorm(const void* x, int64_t rows, const Norm& n, void* y) {
  cuda::LayerNormArgs a;
  a.rows = rows;
  a.n = plan_.d_model;
  a.x_type = type_;
  a.x = x;
  a.gamma = n.gamma;
  a.beta = n.beta;
  a.y_type = type_;
  a.y = y;
  a.eps = plan_.layer_norm_eps;
  cuda::layernorm_forward(a, ctx_->stream());
}

// x [rows, D] ← its sub-layer f in a residual block (nn/residual_block.h). f(in, out, residual)
// writes out [rows, D] = F(in) + residual (residual may be null, or out itself).
template <typename Sublayer>
void CudaTransformer::residual_block(void* x, int64_t rows, const Norm& n, Sublayer&& f) {
  const size_t bytes = static_cast<size_t>(rows * plan_.d_model * elem_);
  if (plan_.pre_norm) {  // x = x + F(LN(x))
    void* u = ensure(normed_, ctx_, bytes).data();
    layernorm(x, rows, n, u);
    f(static_cast<const void*>(u), x, plan_.residual ? x : nullptr);
  } else {  // x = LN(x + F(x))
    void* y = ensure(tmp_, ctx_, bytes).data();
    f(static_cast<const void*>(x), y, plan_.residual ? x : nullptr);
    layernorm(y, rows, n, x);
  }
}

void CudaTransformer::ffn(const void* in, int64_t rows, const Lin& ff1, const Lin& ff2, void* out,
                          const void* residual) {
  void* h = ensure(hidden_, ctx_, static_cast<size_t>(rows * plan_.d_ff * elem_)).data();
  if (plan_.activation == cuda::DeviceActivation::kRelu) {
    gemm(in, rows, ff1, h, nullptr, /*relu=*/true);  // bias and ReLU in the product's epilogue
  } else {
    Lin no_bias = ff1;
    no_bias.b = nullptr;
    gemm(in, rows, no_bias, h, nullptr);
    cuda::ActivationArgs a;
    a.rows = rows;
    a.n = plan_.d_ff;
    a.type = type_;
    a.x = h;
    a.bias = ff1.b;
    a.y = h;
    a.f = plan_.activation;
    cuda::activation_forward(a, ctx_->stream());
  }
  gemm(h, rows, ff2, out, residual);
}

// One attention call: context [B, Tq, D] into ctx_out, each row's log-sum-exp into lse (grown to
// [B, H, Tq]); returns the record its weights are recovered from.
AttnRecord CudaTransformer::attend(const cuda::DeviceAttentionShape& s, const cuda::DeviceHeads& q,
                                   const cuda::DeviceHeads& k, const cuda::DeviceHeads& v,
                                   void* ctx_out, BlockPtr& lse, std::vector<BlockPtr> keep) {
  ensure(lse, ctx_, static_cast<size_t>(s.B * s.H * s.Tq) * sizeof(float));
  cuda::AttentionForwardArgs a;
  a.shape = s;
  a.q = q;
  a.k = k;
  a.v = v;
  a.out = cuda::DeviceHeads{ctx_out, s.Tq * plan_.d_model, plan_.d_head, plan_.d_model};
  a.lse = static_cast<float*>(lse->data());
  a.path = cuda::attention_path(a);
  cuda::attention_forward(a, ctx_->alloc(), ctx_->stream());
  AttnRecord r;
  r.shape = s;
  r.q = q;
  r.k = k;
  r.lse = a.lse;
  r.path = a.path;
  keep.push_back(lse);
  r.keep = std::move(keep);
  r.valid = true;
  return r;
}

void CudaTransformer::embed(const std::vector<int32_t>& ids, const char* side, int64_t vocab,
                            const void* table, int64_t seq_len, int64_t pos_offset,
                            BlockPtr& ids_buf, void* out) {
  const auto n = static_cast<int64_t>(ids.size());
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = ids[static_cast<size_t>(i)];
    ATTN_CHECK(id >= 0 && id < vocab,
               "{} token id {} at sequence {}, position {} is outside the vocabulary of {} ids",
               side, id, i / seq_len, pos_offset + i % seq_len, vocab);
  }
  ensure(ids_buf, ctx_, ids.size() * sizeof(int32_t));
  copy_to_device(*ctx_, ids_buf->data(), ids.data(), ids.size() * sizeof(int32_t));
  cuda::EmbeddingArgs a;
  a.ids = static_cast<const int32_t*>(ids_buf->data());
  a.n = n;
  a.table = table;
  a.table_type = type_;
  a.vocab = vocab;
  a.dim = plan_.d_model;
  a.out = out;
  a.out_type = type_;
  a.scale = plan_.embed_scale;
  a.positions = plan_.positions;
  a.seq_len = seq_len;
  a.pos_offset = pos_offset;
  cuda::embedding_forward(a, ctx_->stream());
}

// [B·expand, T] 1 = padding, row r being sequence r / expand of t.
BlockPtr CudaTransformer::padding_mask(const TokenBatch& t, int64_t expand) {
  std::vector<uint8_t> mask(static_cast<size_t>(t.rows * expand * t.cols));
  for (int64_t r = 0; r < t.rows * expand; ++r)
    for (int64_t j = 0; j < t.cols; ++j)
      mask[static_cast<size_t>(r * t.cols + j)] = t.at(r / expand, j) == plan_.pad_id ? 1 : 0;
  auto b = std::make_shared<Block>(ctx_, mask.size());
  copy_to_device(*ctx_, b->data(), mask.data(), mask.size());
  return b;
}

// memory_ [B·Ts, D] = EncoderNorm(EncoderLayers(embed(src))), the records of every layer.
void CudaTransformer::encode(const TokenBatch& src) {
  const int64_t B = src.rows, Ts = src.cols, D = plan_.d_model, N = B * Ts;
  ATTN_CHECK(static_cast<int64_t>(src.ids.size()) == N,
             "source batch holds {} ids for shape [{}, {}]", src.ids.size(), B, Ts);
  ATTN_CHECK(B > 0 && Ts > 0, "source batch is empty ([{}, {}])", B, Ts);
  ATTN_CHECK(Ts <= plan_.max_len, "source sequence of {} tokens is longer than max_len {}", Ts,
             plan_.max_len);
  clear_maps();
  src_rows_ = B;
  src_len_ = Ts;
  src_padding_ = padding_mask(src, 1);
  const size_t row_bytes = static_cast<size_t>(D * elem_);
  void* x = ensure(x_, ctx_, static_cast<size_t>(N) * row_bytes).data();
  embed(src.ids, "source", plan_.src_vocab, src_table_, Ts, 0, ids_, x);
  const auto* pad = static_cast<const uint8_t*>(src_padding_->data());
  for (int64_t l = 0; l < plan_.encoder_layers; ++l) {
    const EncoderWeights& w = enc_[static_cast<size_t>(l)];
    BlockPtr& qkv_b = enc_qkv_[static_cast<size_t>(l)];
    residual_block(x, N, w.norm1, [&](const void* in, void* out, const void* res) {
      void* qkv = ensure(qkv_b, ctx_, static_cast<size_t>(N * 3 * D * elem_)).data();
      gemm(in, N, w.qkv, qkv, nullptr);
      void* c = ensure(ctx_buf_, ctx_, static_cast<size_t>(N) * row_bytes).data();
      cuda::DeviceAttentionShape s;
      s.B = B, s.H = plan_.heads, s.Tq = Ts, s.Tk = Ts, s.d = plan_.d_head, s.type = type_;
      s.scale = plan_.score_scale;
      s.key_padding = pad;
      enc_rec_[static_cast<size_t>(l)] =
          attend(s, cuda::interleaved_heads(qkv, type_, Ts, 3 * D, plan_.d_head, 0),
                 cuda::interleaved_heads(qkv, type_, Ts, 3 * D, plan_.d_head, D),
                 cuda::interleaved_heads(qkv, type_, Ts, 3 * D, plan_.d_head, 2 * D), c,
                 enc_lse_[static_cast<size_t>(l)], {qkv_b, src_padding_});
      gemm(c, N, w.attn_out, out, res);
    });
    residual_block(x, N, w.norm2, [&](const void* in, void* out, const void* res) {
      ffn(in, N, w.ff1, w.ff2, out, res);
    });
  }
  // memory_ is its own block: decoding keeps reading it while x_ is reused.
  memory_ = std::make_shared<Block>(ctx_, static_cast<size_t>(N) * row_bytes);
  if (plan_.final_norms) {
    layernorm(x, N, enc_norm_, memory_->data());
  } else {
    ATTN_CUDA_CHECK(cudaMemcpyAsync(memory_->data(), x, static_cast<size_t>(N) * row_bytes,
                                    cudaMemcpyDeviceToDevice, ctx_->stream()));
  }
}

const Tensor& CudaTransformer::forward(const TokenBatch& src, const TokenBatch& tgt_in,
                                       const ForwardOptions&) {
  // ForwardOptions::training asks for dropout: inference has none, as in eval mode.
  encode(src);
  const int64_t B = tgt_in.rows, Tt = tgt_in.cols, Ts = src.cols, D = plan_.d_model;
  const int64_t N = B * Tt, V = plan_.tgt_vocab;
  ATTN_CHECK(static_cast<int64_t>(tgt_in.ids.size()) == N,
             "target batch holds {} ids for shape [{}, {}]", tgt_in.ids.size(), B, Tt);
  ATTN_CHECK(B == src.rows, "target batch has {} sequences, source batch {}", B, src.rows);
  ATTN_CHECK(Tt > 0, "target batch is empty ([{}, {}])", B, Tt);
  ATTN_CHECK(Tt <= plan_.max_len, "target sequence of {} tokens is longer than max_len {}", Tt,
             plan_.max_len);
  tgt_padding_ = padding_mask(tgt_in, 1);
  const size_t row_bytes = static_cast<size_t>(D * elem_);
  void* x = ensure(x_, ctx_, static_cast<size_t>(N) * row_bytes).data();
  embed(tgt_in.ids, "target", V, tgt_table_, Tt, 0, tgt_ids_, x);
  const auto* tpad =
      plan_.decoder_self_padding ? static_cast<const uint8_t*>(tgt_padding_->data()) : nullptr;
  const auto* spad = static_cast<const uint8_t*>(src_padding_->data());
  for (int64_t l = 0; l < plan_.decoder_layers; ++l) {
    const auto li = static_cast<size_t>(l);
    const DecoderWeights& w = dec_[li];
    residual_block(x, N, w.norm1, [&](const void* in, void* out, const void* res) {
      void* qkv = ensure(dec_self_qkv_[li], ctx_, static_cast<size_t>(N * 3 * D * elem_)).data();
      gemm(in, N, w.self_qkv, qkv, nullptr);
      void* c = ensure(ctx_buf_, ctx_, static_cast<size_t>(N) * row_bytes).data();
      cuda::DeviceAttentionShape s;
      s.B = B, s.H = plan_.heads, s.Tq = Tt, s.Tk = Tt, s.d = plan_.d_head, s.type = type_;
      s.scale = plan_.score_scale;
      s.causal = true;  // the look-ahead mask
      s.key_padding = tpad;
      std::vector<BlockPtr> keep = {dec_self_qkv_[li]};
      if (tpad) keep.push_back(tgt_padding_);
      self_rec_[li] = attend(s, cuda::interleaved_heads(qkv, type_, Tt, 3 * D, plan_.d_head, 0),
                             cuda::interleaved_heads(qkv, type_, Tt, 3 * D, plan_.d_head, D),
                             cuda::interleaved_heads(qkv, type_, Tt, 3 * D, plan_.d_head, 2 * D), c,
                             dec_self_lse_[li], std::move(keep));
      gemm(c, N, w.self_out, out, res);
    });
    residual_block(x, N, w.norm2, [&](const void* in, void* out, const void* res) {
      void* q = ensure(dec_cross_q_[li], ctx_, static_cast<size_t>(N) * row_bytes).data();
      void* kv =
          ensure(dec_cross_kv_[li], ctx_, static_cast<size_t>(B * Ts * 2 * D * elem_)).data();
      gemm(in, N, w.cross_q, q, nullptr);
      gemm(memory_->data(), B * Ts, w.cross_kv, kv, nullptr);
      void* c = ensure(ctx_buf_, ctx_, static_cast<size_t>(N) * row_bytes).data();
      cuda::DeviceAttentionShape s;
      s.B = B, s.H = plan_.heads, s.Tq = Tt, s.Tk = Ts, s.d = plan_.d_head, s.type = type_;
      s.scale = plan_.score_scale;
      s.key_padding = spad;
      cross_rec_[li] =
          attend(s, cuda::interleaved_heads(q, type_, Tt, D, plan_.d_head, 0),
                 cuda::interleaved_heads(kv, type_, Ts, 2 * D, plan_.d_head, 0),
                 cuda::interleaved_heads(kv, type_, Ts, 2 * D, plan_.d_head, D), c,
                 dec_cross_lse_[li], {dec_cross_q_[li], dec_cross_kv_[li], src_padding_});
      gemm(c, N, w.cross_out, out, res);
    });
    residual_block(x, N, w.norm3, [&](const void* in, void* out, const void* res) {
      ffn(in, N, w.ff1, w.ff2, out, res);
    });
  }
  const void* final_x = x;
  if (plan_.final_norms) {
    void* u = ensure(normed_, ctx_, static_cast<size_t>(N) * row_bytes).data();
    layernorm(x, N, dec_norm_, u);
    final_x = u;
  }
  void* logits = ensure(logits_buf_, ctx_, static_cast<size_t>(N * V) * sizeof(float)).data();
  gemm(final_x, N, generator_, logits, nullptr);
  logits_.resize({B, Tt, V});
  copy_to_host(*ctx_, logits_.data(), logits, static_cast<size_t>(N * V) * sizeof(float));
  last_was_forward_ = true;
  return logits_;
}

// ---- decoding ----

CudaDecoderState& CudaTransformer::state_of(DecoderState& state) const {
  auto* s = dynamic_cast<CudaDecoderState*>(&state);
  ATTN_CHECK(s != nullptr && s->owner == this,
             "decode_step: the state was not made by this model's start_decoding");
  return *s;
}

std::unique_ptr<DecoderState> CudaTransformer::start_decoding(const TokenBatch& src, int64_t expand,
                                                              int64_t max_steps) {
  ATTN_CHECK(expand >= 1, "decoding needs at least one row per sentence");
  ATTN_CHECK(max_steps >= 1 && max_steps <= plan_.max_len,
             "decoding {} steps exceeds the model's max_len {}", max_steps, plan_.max_len);
  ATTN_CHECK(src.rows >= 1 && src.rows * expand <= 65535,
             "--device cuda decodes at most 65535 rows (sentences × beam) at once, not {} × {}",
             src.rows, expand);
  encode(src);
  last_was_forward_ = false;
  const int64_t B = src.rows, Ts = src.cols, D = plan_.d_model, R = B * expand;
  auto state = std::make_unique<CudaDecoderState>();
  CudaDecoderState& s = *state;
  s.ctx = ctx_;
  s.type = type_;
  s.rows = R;
  s.src_len = Ts;
  s.capacity = max_steps;
  s.width = 2 * D;
  s.owner = this;
  s.memory_padding = padding_mask(src, expand);
  // Row r of the cross K|V is sentence r / expand's.
  std::vector<int32_t> index(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) index[static_cast<size_t>(r)] = static_cast<int32_t>(r / expand);
  BlockPtr idx = std::make_shared<Block>(ctx_, index.size() * sizeof(int32_t));
  copy_to_device(*ctx_, idx->data(), index.data(), index.size() * sizeof(int32_t));
  const int64_t kv_row_bytes = Ts * 2 * D * elem_;
  BlockPtr kv;
  for (int64_t l = 0; l < plan_.decoder_layers; ++l) {
    s.self_kv.push_back(
        std::make_shared<Block>(ctx_, static_cast<size_t>(R * max_steps * 2 * D * elem_)));
    auto cross = std::make_shared<Block>(ctx_, static_cast<size_t>(R * kv_row_bytes));
    if (expand == 1) {
      gemm(memory_->data(), B * Ts, dec_[static_cast<size_t>(l)].cross_kv, cross->data(), nullptr);
    } else {
      ensure(kv, ctx_, static_cast<size_t>(B * kv_row_bytes));
      gemm(memory_->data(), B * Ts, dec_[static_cast<size_t>(l)].cross_kv, kv->data(), nullptr);
      cuda::copy_rows(cross->data(), kv_row_bytes, kv->data(), kv_row_bytes,
                      static_cast<const int32_t*>(idx->data()), R, kv_row_bytes, ctx_->stream());
    }
    s.cross_kv.push_back(std::move(cross));
  }
  return state;
}

// Feeds tokens[r] at position s.steps of every row: logits_buf_ [R, V] fp32, the records.
void CudaTransformer::run_step(CudaDecoderState& s, const std::vector<int32_t>& tokens) {
  const int64_t R = s.rows, D = plan_.d_model, t = s.steps, Ts = s.src_len;
  ATTN_CHECK(static_cast<int64_t>(tokens.size()) == R, "decode_step: {} tokens for {} rows",
             tokens.size(), R);
  ATTN_CHECK(t < s.capacity, "decode_step: the cache is full ({} positions)", s.capacity);
  for (int64_t r = 0; r < R; ++r)
    ATTN_CHECK(
        tokens[static_cast<size_t>(r)] >= 0 && tokens[static_cast<size_t>(r)] < plan_.tgt_vocab,
        "decode_step: token id {} is outside the target vocabulary of {}",
        tokens[static_cast<size_t>(r)], plan_.tgt_vocab);
  clear_maps();
  const size_t row_bytes = static_cast<size_t>(D * elem_);
  void* x = ensure(x_, ctx_, static_cast<size_t>(R) * row_bytes).data();
  embed(tokens, "target", plan_.tgt_vocab, tgt_table_, 1, t, tgt_ids_, x);
  for (int64_t l = 0; l < plan_.decoder_layers; ++l) {
    const auto li = static_cast<size_t>(l);
    const DecoderWeights& w = dec_[li];
    residual_block(x, R, w.norm1, [&](const void* in, void* out, const void* res) {
      // Q|K|V of this position; K|V appended to the cache at t; Q attends over positions 0..t.
      void* qkv = ensure(dec_self_qkv_[li], ctx_, static_cast<size_t>(R * 3 * D * elem_)).data();
      gemm(in, R, w.self_qkv, qkv, nullptr);
      void* cache = s.self_kv[li]->data();
      cuda::kv_append(cuda::KvCacheView{cache, type_, R, s.capacity, 2 * D}, t, at(qkv, D), 3 * D,
                      ctx_->stream());
      void* c = ensure(ctx_buf_, ctx_, static_cast<size_t>(R) * row_bytes).data();
      cuda::DeviceAttentionShape sh;
      sh.B = R, sh.H = plan_.heads, sh.Tq = 1, sh.Tk = t + 1, sh.d = plan_.d_head, sh.type = type_;
      sh.scale = plan_.score_scale;
      const int64_t cache_row = s.capacity * 2 * D;
      self_rec_[li] = attend(sh, cuda::DeviceHeads{qkv, 3 * D, plan_.d_head, 3 * D},
                             cuda::DeviceHeads{cache, cache_row, plan_.d_head, 2 * D},
                             cuda::DeviceHeads{at(cache, D), cache_row, plan_.d_head, 2 * D}, c,
                             dec_self_lse_[li], {dec_self_qkv_[li], s.self_kv[li]});
      gemm(c, R, w.self_out, out, res);
    });
    residual_block(x, R, w.norm2, [&](const void* in, void* out, const void* res) {
      void* q = ensure(dec_cross_q_[li], ctx_, static_cast<size_t>(R) * row_bytes).data();
      gemm(in, R, w.cross_q, q, nullptr);
      void* kv = s.cross_kv[li]->data();
      void* c = ensure(ctx_buf_, ctx_, static_cast<size_t>(R) * row_bytes).data();
      cuda::DeviceAttentionShape sh;
      sh.B = R, sh.H = plan_.heads, sh.Tq = 1, sh.Tk = Ts, sh.d = plan_.d_head, sh.type = type_;
      sh.scale = plan_.score_scale;
      sh.key_padding = static_cast<const uint8_t*>(s.memory_padding->data());
      const int64_t kv_row = Ts * 2 * D;
      cross_rec_[li] =
          attend(sh, cuda::DeviceHeads{q, D, plan_.d_head, D},
                 cuda::DeviceHeads{kv, kv_row, plan_.d_head, 2 * D},
                 cuda::DeviceHeads{at(kv, D), kv_row, plan_.d_head, 2 * D}, c, dec_cross_lse_[li],
                 {dec_cross_q_[li], s.cross_kv[li], s.memory_padding});
      gemm(c, R, w.cross_out, out, res);
    });
    residual_block(x, R, w.norm3, [&](const void* in, void* out, const void* res) {
      ffn(in, R, w.ff1, w.ff2, out, res);
    });
  }
  const void* final_x = x;
  if (plan_.final_norms) {
    void* u = ensure(normed_, ctx_, static_cast<size_t>(R) * row_bytes).data();
    layernorm(x, R, dec_norm_, u);
    final_x = u;
  }
  void* logits =
      ensure(logits_buf_, ctx_, static_cast<size_t>(R * plan_.tgt_vocab) * sizeof(float)).data();
  gemm(final_x, R, generator_, logits, nullptr);
  ++s.steps;
  last_was_forward_ = false;
}

const Tensor& CudaTransformer::decode_step(DecoderState& state,
                                           const std::vector<int32_t>& tokens) {
  CudaDecoderState& s = state_of(state);
  run_step(s, tokens);
  const int64_t R = s.rows, V = plan_.tgt_vocab;
  logits_.resize({R, V});
  copy_to_host(*ctx_, logits_.data(), logits_buf_->data(),
               static_cast<size_t>(R * V) * sizeof(float));
  return logits_;
}

void CudaTransformer::decode_step_topk(DecoderState& state, const std::vector<int32_t>& tokens,
                                       const StepTopKRequest& request, StepTopK& out) {
  // Beams wider than the device top-k (k ≤ 32: beam ≤ 16) and long ban lists rank on the host.
  if (request.k > cuda::kMaxTopK || request.banned.size() > 4) {
    Seq2SeqModel::decode_step_topk(state, tokens, request, out);
    return;
  }
  CudaDecoderState& s = state_of(state);
  const int64_t R = s.rows, k = request.k;
  ATTN_CHECK(k >= 1, "decode_step_topk: k must be ≥ 1, got {}", k);
  ATTN_CHECK(static_cast<int64_t>(request.offsets.size()) == R,
             "decode_step_topk: {} offsets for {} rows", request.offsets.size(), R);
  // Uploaded first: a copy from pageable memory waits for the stream, which is idle now.
  ensure(step_offsets_, ctx_, static_cast<size_t>(R) * sizeof(float));
  copy_to_device(*ctx_, step_offsets_->data(), request.offsets.data(),
                 static_cast<size_t>(R) * sizeof(float));
  run_step(s, tokens);
  ensure(topk_values_, ctx_, static_cast<size_t>(R * k) * sizeof(float));
  ensure(topk_ids_, ctx_, static_cast<size_t>(R * k) * sizeof(int32_t));
  cuda::TopKArgs a;
  a.rows = R;
  a.V = plan_.tgt_vocab;
  a.type = DType::kF32;
  a.logits = logits_buf_->data();
  a.offset = static_cast<const float*>(step_offsets_->data());
  a.k = static_cast<int>(k);
  for (size_t i = 0; i < request.banned.size(); ++i) a.banned[i] = request.banned[i];
  a.values = static_cast<float*>(topk_values_->data());
  a.ids = static_cast<int32_t*>(topk_ids_->data());
  cuda::log_softmax_topk(a, ctx_->stream());
  out.k = k;
  out.values.resize(static_cast<size_t>(R * k));
  out.ids.resize(static_cast<size_t>(R * k));
  ATTN_CUDA_CHECK(cudaMemcpyAsync(out.values.data(), a.values, out.values.size() * sizeof(float),
                                  cudaMemcpyDeviceToHost, ctx_->stream()));
  copy_to_host(*ctx_, out.ids.data(), a.ids, out.ids.size() * sizeof(int32_t));
}

// ---- attention maps ----

Tensor CudaTransformer::recover(const AttnRecord& r, const std::vector<int64_t>& heads,
                                const char* what) const {
  ATTN_CHECK(r.valid, "no {} attention yet: run forward, start_decoding or a decode step first",
             what);
  const int64_t G = r.shape.B, H = r.shape.H, Tq = r.shape.Tq, Tk = r.shape.Tk;
  for (int64_t h : heads) ATTN_CHECK(h >= 0 && h < H, "head {} does not exist (of {})", h, H);
  const auto n = static_cast<int64_t>(heads.size());
  Tensor out({G, n, Tq, Tk});
  if (out.numel() == 0) return out;
  std::vector<int32_t> pairs;
  pairs.reserve(static_cast<size_t>(G * n));
  for (int64_t g = 0; g < G; ++g)
    for (int64_t h : heads) pairs.push_back(static_cast<int32_t>(g * H + h));
  auto pairs_b = std::make_shared<Block>(ctx_, pairs.size() * sizeof(int32_t));
  copy_to_device(*ctx_, pairs_b->data(), pairs.data(), pairs.size() * sizeof(int32_t));
  auto weights = std::make_shared<Block>(ctx_, static_cast<size_t>(out.numel()) * sizeof(float));
  cuda::AttentionWeightsArgs a;
  a.shape = r.shape;
  a.q = r.q;
  a.k = r.k;
  a.lse = r.lse;
  a.pairs = static_cast<const int32_t*>(pairs_b->data());
  a.n_pairs = G * n;
  a.q_begin = 0;
  a.q_end = Tq;
  a.out = static_cast<float*>(weights->data());
  a.pair_stride = Tq * Tk;
  a.row_stride = Tk;
  a.path = r.path;  // the forward's arithmetic, so the weights match its log-sum-exp
  cuda::attention_weights(a, ctx_->stream());
  copy_to_host(*ctx_, out.data(), weights->data(),
               static_cast<size_t>(out.numel()) * sizeof(float));
  return out;
}

Tensor CudaTransformer::attention_heads(AttentionKind kind, int64_t layer,
                                        const std::vector<int64_t>& heads) const {
  ATTN_CHECK(layer >= 0 && layer < num_layers(kind), "no {} attention layer {} (the model has {})",
             attention_kind_name(kind), layer, num_layers(kind));
  const auto l = static_cast<size_t>(layer);
  switch (kind) {
    case AttentionKind::kEncoderSelf:
      return recover(enc_rec_[l], heads, "encoder_self");
    case AttentionKind::kDecoderSelf:
      return recover(self_rec_[l], heads, "decoder_self");
    case AttentionKind::kCross:
      return recover(cross_rec_[l], heads, "cross");
  }
  fail("unknown attention kind");
}

const Tensor& CudaTransformer::attention(AttentionKind kind, int64_t layer) const {
  KeptMap& kept = maps_[std::make_pair(static_cast<int>(kind), layer)];
  if (kept.generation != generation_) {
    std::vector<int64_t> all(static_cast<size_t>(plan_.heads));
    std::iota(all.begin(), all.end(), 0);
    kept.weights = attention_heads(kind, layer, all);
    kept.generation = generation_;
  }
  return kept.weights;
}

Tensor CudaTransformer::attention_values(AttentionKind kind, int64_t layer) const {
  ATTN_CHECK(layer >= 0 && layer < num_layers(kind), "no {} attention layer {} (the model has {})",
             attention_kind_name(kind), layer, num_layers(kind));
  const std::string where = fmt::format("{} layer {}", attention_kind_name(kind), layer);
  const bool encoder = kind == AttentionKind::kEncoderSelf;
  ATTN_CHECK(encoder ? enc_rec_[static_cast<size_t>(layer)].valid : last_was_forward_,
             "{}: the value vectors are those of a full forward pass; run forward first", where);
  const auto l = static_cast<size_t>(layer);
  const int64_t D = plan_.d_model, H = plan_.heads, dh = plan_.d_head;
  // The packed products: self Q|K|V [B, T, 3·D] (V from column 2·D), cross K|V [B, Ts, 2·D]
  // (V from column D).
  const AttnRecord& r = encoder                               ? enc_rec_[l]
                        : kind == AttentionKind::kDecoderSelf ? self_rec_[l]
                                                              : cross_rec_[l];
  const int64_t B = r.shape.B, Tk = r.shape.Tk;
  const bool cross = kind == AttentionKind::kCross;
  const int64_t width = cross ? 2 * D : 3 * D, v_col = cross ? D : 2 * D;
  const Block& packed = cross ? *dec_cross_kv_[l] : encoder ? *enc_qkv_[l] : *dec_self_qkv_[l];
  const size_t n = static_cast<size_t>(B * Tk * width);
  std::vector<float> host(n);
  if (type_ == DType::kF32) {
    copy_to_host(*ctx_, host.data(), packed.data(), n * sizeof(float));
  } else {
    std::vector<cuda::Bf16> h(n);
    copy_to_host(*ctx_, h.data(), packed.data(), n * sizeof(cuda::Bf16));
    for (size_t i = 0; i < n; ++i) host[i] = cuda::to_float(h[i]);
  }
  Tensor v({B, H, Tk, dh});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t j = 0; j < Tk; ++j)
        std::memcpy(v.data() + ((b * H + h) * Tk + j) * dh,
                    host.data() + (b * Tk + j) * width + v_col + h * dh,
                    static_cast<size_t>(dh) * sizeof(float));
  return v;
}

}  // namespace

std::unique_ptr<Seq2SeqModel> make_cuda_transformer(std::unique_ptr<Seq2SeqModel> model,
                                                    Precision precision) {
  ATTN_CHECK(model != nullptr, "make_cuda_transformer: no model");
  check_cuda_supported(*model);
  std::string why;
  ATTN_CHECK(cuda_device_usable(&why), "--device cuda: no usable CUDA device here ({})", why);
  return std::make_unique<CudaTransformer>(std::move(model), precision);
}

}  // namespace attnscope
