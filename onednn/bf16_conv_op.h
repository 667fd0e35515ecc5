// A 2-D convolution, its input gradient or its weight gradient on oneDNN, computed from
// bfloat16 copies of float32 operands with float32 accumulation and a float32 result: on CPUs
// with AMX (Sapphire Rapids and later) oneDNN runs it on the tile unit.
#pragma once
#include "op.h"

namespace jittor {

struct Bf16ConvOp : Op {
    Var* a;
    Var* b;
    Var* out;
    // kind 0: out = conv(a: x nchw, b: weight); 1: out = input gradient (a: weight, b: dy),
    // of height/width size_h/size_w; 2: out = weight gradient (a: x, b: dy), kernel size_h/size_w.
    int kind, stride, padding, size_h, size_w;
    string wformat;

    Bf16ConvOp(Var* a, Var* b, int kind, int stride, int padding, int size_h=0, int size_w=0, string wformat="oihw");

    const char* name() const override { return "bf16_conv"; }
    void infer_shape() override;
    void run() override;
};

} // jittor
