"""`selective_scan`: Mamba's `selective_scan_fn` in PyTorch that exports as one `ai.ssmc::SelectiveScan`.

Eager calls compute the reference (fp32 state, a loop over L). Under the TorchScript ONNX exporter
(`torch.onnx.export(..., dynamo=False)`) the call becomes one node; `scan_function.finalize_model` then
writes the absent optional inputs as empty names and adds the function bodies (see `export.py`).
"""
import torch
import torch.nn.functional as F

from . import scan_function as sf


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, reverse=False):
    """y (batch, channels, L) = Mamba's selective scan; shapes and formula in docs/ops/SelectiveScan.md."""
    return _SelectiveScan.apply(u, delta, A, B, C, D, z, delta_bias, bool(delta_softplus), bool(reverse))


def selective_scan_eager(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, reverse=False):
    """The reference computation in fp32, as Mamba's `selective_scan_ref` does it."""
    u, delta, A, B, C = (_f32(t) for t in (u, delta, A, B, C))
    nb, nd, nl = u.shape
    n = A.shape[1]
    if B.dim() == 3:
        B = B.unsqueeze(1)
    if C.dim() == 3:
        C = C.unsqueeze(1)
    g = B.shape[1]
    B = B.repeat_interleave(nd // g, dim=1)      # channel d reads group d // (D/G)
    C = C.repeat_interleave(nd // g, dim=1)
    if delta_bias is not None:
        delta = delta + _f32(delta_bias)[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)                # threshold 20, like torch's default
    dA = torch.exp(delta.unsqueeze(-1) * A[None, :, None, :])        # (b, D, L, N)
    dBu = (delta * u).unsqueeze(-1) * B.permute(0, 1, 3, 2)          # (b, D, L, N)
    h = u.new_zeros(nb, nd, n)
    ys = [None] * nl
    for l in (range(nl - 1, -1, -1) if reverse else range(nl)):
        h = dA[:, :, l] * h + dBu[:, :, l]
        ys[l] = (h * C[:, :, :, l]).sum(-1)
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + _f32(D)[None, :, None] * u
    if z is not None:
        y = y * F.silu(_f32(z))
    return y


def _f32(t):
    # A no-op .float() would still be traced and rebind the tensor to a Cast in the exported graph.
    return t if t.dtype == torch.float32 else t.float()


class _SelectiveScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus, reverse):
        # Under the ONNX exporter the tracer would record the whole loop over L only to drop it for
        # the symbolic; hide it (keeps export time and memory independent of L).
        state = torch._C._get_tracing_state()
        torch._C._set_tracing_state(None)
        try:
            return selective_scan_eager(u, delta, A, B, C, D, z, delta_bias, delta_softplus, reverse)
        finally:
            torch._C._set_tracing_state(state)

    @staticmethod
    def symbolic(g, u, delta, A, B, C, D, z, delta_bias, delta_softplus, reverse):
        args = [u, delta, A, B, C, D, z, delta_bias]
        present = "".join("0" if _absent(a) else "1" for a in args)
        out = g.op(f"{sf.DOMAIN}::{sf.OP}", *[a for a in args if not _absent(a)],
                   delta_softplus_i=int(delta_softplus), reverse_i=int(reverse),
                   **{sf.PRESENT_ATTR + "_s": present})
        out.setType(u.type())
        return out


def _absent(value):
    if value is None:
        return True
    # The TorchScript exporter passes a missing optional tensor as a None-typed constant.
    node = value.node() if hasattr(value, "node") else None
    return node is not None and node.mustBeNone()
