// RUN: kvcc-opt %s --split-input-file --kvc-lower-to-cpu | FileCheck %s

// With a residual: the add, the f32 sum of squares (a row reduction) and the
// scale, as linalg on tensors; the sum is the second result.
// CHECK-LABEL: func.func @add_rms_norm(
// CHECK-SAME: %[[X:.*]]: tensor<?x64xf16>, %[[D:.*]]: tensor<?x64xf16>, %[[W:.*]]: tensor<64xf16>
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[D]] : tensor<?x64xf16>, tensor<?x64xf16>)
// CHECK: arith.addf
// CHECK: %[[SQ:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[S]] : tensor<?x64xf16>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[SQ]], %[[W]] : tensor<?x64xf16>, tensor<?xf32>, tensor<64xf16>)
// CHECK: math.rsqrt
// CHECK: arith.truncf
// CHECK: return %[[H]], %[[S]]
func.func @add_rms_norm(%x: tensor<?x64xf16>, %d: tensor<?x64xf16>, %w: tensor<64xf16>) -> (tensor<?x64xf16>, tensor<?x64xf16>) {
  %h, %s = kvc.rms_norm %x + %d, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf16> + tensor<?x64xf16>, tensor<64xf16> -> tensor<?x64xf16>, tensor<?x64xf16>
  return %h, %s : tensor<?x64xf16>, tensor<?x64xf16>
}

// -----

// Without one, and a dynamic hidden size: 1 / hidden from the run-time size.
// CHECK-LABEL: func.func @rms_norm(
// CHECK-NOT: kvc.rms_norm
// CHECK: %[[HID:.*]] = tensor.dim %{{.*}}, %c1
// CHECK: linalg.generic
// CHECK: %[[HF:.*]] = arith.uitofp
// CHECK: %[[INV:.*]] = arith.divf %{{.*}}, %[[HF]]
// CHECK: linalg.generic
// CHECK: arith.mulf %{{.*}}, %[[INV]]
func.func @rms_norm(%x: tensor<?x?xf32>, %w: tensor<?xf32>) -> tensor<?x?xf32> {
  %h = kvc.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x?xf32>, tensor<?xf32> -> tensor<?x?xf32>
  return %h : tensor<?x?xf32>
}
