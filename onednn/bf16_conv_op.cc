#include <dnnl.hpp>

#include "var.h"
#include "bf16_conv_op.h"

using namespace dnnl;

namespace jittor {

Bf16ConvOp::Bf16ConvOp(Var* a, Var* b, int kind, int stride, int padding, int size_h, int size_w, string wformat)
    : a(a), b(b), kind(kind), stride(stride), padding(padding), size_h(size_h), size_w(size_w),
      wformat(move(wformat)) {
    flags.set(NodeFlags::_cpu);
    ASSERT(kind >= 0 && kind <= 2) << "bf16_conv: kind must be 0, 1 or 2";
    ASSERT(this->wformat == "oihw" || this->wformat == "iohw") << "bf16_conv: wformat oihw or iohw";
    out = create_output(nullptr, ns_float32);
}

// Weight shape as (out channels, in channels, kh, kw) whatever its layout.
static void weight_dims(const NanoVector& s, const string& wformat, int64& co, int64& ci, int64& kh, int64& kw) {
    if (wformat == "oihw") co = s[0], ci = s[1];
    else ci = s[0], co = s[1];
    kh = s[2], kw = s[3];
}

static NanoVector weight_shape(const string& wformat, int64 co, int64 ci, int64 kh, int64 kw) {
    if (wformat == "oihw") return NanoVector(co, ci, kh, kw);
    return NanoVector(ci, co, kh, kw);
}

void Bf16ConvOp::infer_shape() {
    ASSERTop(a->shape.size(),==,4);
    ASSERTop(b->shape.size(),==,4);
    int64 co, ci, kh, kw;
    if (kind == 0) {
        weight_dims(b->shape, wformat, co, ci, kh, kw);
        ASSERTop(a->shape[1],==,ci);
        out->set_shape(NanoVector(a->shape[0], co,
            (a->shape[2] + 2 * padding - kh) / stride + 1,
            (a->shape[3] + 2 * padding - kw) / stride + 1));
    } else if (kind == 1) {
        weight_dims(a->shape, wformat, co, ci, kh, kw);
        ASSERTop(b->shape[1],==,co);
        out->set_shape(NanoVector(b->shape[0], ci, size_h, size_w));
    } else {
        out->set_shape(weight_shape(wformat, b->shape[1], a->shape[1], size_h, size_w));
    }
}

// oneDNN memory in the primitive's layout and type, filled from the user's float32 array.
static memory reordered(memory user, const memory::desc& wanted, const engine& eng, stream& s) {
    if (user.get_desc() == wanted) return user;
    memory m(wanted, eng);
    reorder(user, m).execute(s, user, m);
    return m;
}

static void write_back(memory result, memory user, stream& s) {
    if (result.get_desc() == user.get_desc()) return;
    reorder(result, user).execute(s, result, user);
}

// One of a primitive's arrays: its argument name, the user's float32 array, and the layout
// and type the primitive wants.
struct Operand {
    int arg;
    memory user;
    memory::desc wanted;
};

// Runs a primitive on two operands and writes its result into the user's array, reordering
// on the way in and out where layouts or types differ.
static void execute(const primitive& p, Operand in1, Operand in2, Operand result,
                    const engine& eng, stream& s) {
    memory m1 = reordered(in1.user, in1.wanted, eng, s);
    memory m2 = reordered(in2.user, in2.wanted, eng, s);
    memory out = result.user.get_desc() == result.wanted ? result.user : memory(result.wanted, eng);
    p.execute(s, {{in1.arg, m1}, {in2.arg, m2}, {result.arg, out}});
    write_back(out, result.user, s);
}

void Bf16ConvOp::run() {
    using tag = memory::format_tag;
    using dt = memory::data_type;
    static engine eng(engine::kind::cpu, 0);
    stream s(eng);

    Var* x = kind == 1 ? out : a;
    Var* w = kind == 0 ? b : kind == 1 ? a : out;
    Var* y = kind == 0 ? out : b;
    int64 co, ci, kh, kw;
    weight_dims(w->shape, wformat, co, ci, kh, kw);
    memory::dims src = {x->shape[0], ci, x->shape[2], x->shape[3]};
    memory::dims wei = {co, ci, kh, kw};
    memory::dims dst = {y->shape[0], co, y->shape[2], y->shape[3]};
    memory::dims strides = {stride, stride}, pad = {padding, padding};
    tag wtag = wformat == "oihw" ? tag::oihw : tag::iohw;

    memory user_x({src, dt::f32, tag::nchw}, eng, x->mem_ptr);
    memory user_w({wei, dt::f32, wtag}, eng, w->mem_ptr);
    memory user_y({dst, dt::f32, tag::nchw}, eng, y->mem_ptr);

    auto x_md = memory::desc(src, kind == 1 ? dt::f32 : dt::bf16, tag::any);
    auto w_md = memory::desc(wei, kind == 2 ? dt::f32 : dt::bf16, tag::any);
    auto y_md = memory::desc(dst, kind == 0 ? dt::f32 : dt::bf16, tag::any);
    // oneDNN's backward primitives need the forward one as a hint, in bfloat16 like them.
    auto fwd_desc = convolution_forward::desc(prop_kind::forward_training,
        algorithm::convolution_direct, memory::desc(src, dt::bf16, tag::any),
        memory::desc(wei, dt::bf16, tag::any), memory::desc(dst, kind == 0 ? dt::f32 : dt::bf16, tag::any),
        strides, pad, pad);
    auto fwd = convolution_forward::primitive_desc(fwd_desc, eng);

    if (kind == 0) {
        execute(convolution_forward(fwd), {DNNL_ARG_SRC, user_x, fwd.src_desc()},
                {DNNL_ARG_WEIGHTS, user_w, fwd.weights_desc()},
                {DNNL_ARG_DST, user_y, fwd.dst_desc()}, eng, s);
    } else if (kind == 1) {
        auto pd = convolution_backward_data::primitive_desc(convolution_backward_data::desc(
            algorithm::convolution_direct, x_md, w_md, y_md, strides, pad, pad), eng, fwd);
        execute(convolution_backward_data(pd), {DNNL_ARG_WEIGHTS, user_w, pd.weights_desc()},
                {DNNL_ARG_DIFF_DST, user_y, pd.diff_dst_desc()},
                {DNNL_ARG_DIFF_SRC, user_x, pd.diff_src_desc()}, eng, s);
    } else {
        auto pd = convolution_backward_weights::primitive_desc(convolution_backward_weights::desc(
            algorithm::convolution_direct, x_md, w_md, y_md, strides, pad, pad), eng, fwd);
        execute(convolution_backward_weights(pd), {DNNL_ARG_SRC, user_x, pd.src_desc()},
                {DNNL_ARG_DIFF_DST, user_y, pd.diff_dst_desc()},
                {DNNL_ARG_DIFF_WEIGHTS, user_w, pd.diff_weights_desc()}, eng, s);
    }
    s.wait();
}

} // jittor
