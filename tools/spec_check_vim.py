"""Independent float64 numpy check of tools/ssmc_models/vim.py against vim.md section 6 (direct form:
anti-causal conv and reverse scan for the backward direction, no flips). Run: tools/py-export tools/spec_check_vim.py"""
import sys; import os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np, torch
from ssmc_models import vim
m = vim.build('vim-tiny-micro', (64,64)); vim.random_init(m, 3); m.eval()
x = torch.randn(2,3,64,64)
with torch.no_grad(): ref = m(x).numpy().astype(np.float64)
P = {k: v.double().numpy() for k,v in m.state_dict().items()}
def sp(v): return np.where(v>20, v, np.log1p(np.exp(np.minimum(v,20))))
def silu(v): return v/(1+np.exp(-v))
def rms(v,w): return v/np.sqrt((v*v).mean(-1,keepdims=True)+1e-5)*w
xi = x.double().numpy()
W = P['patch_embed.proj.weight']; b=P['patch_embed.proj.bias']
B_,_,H,Wd = xi.shape; g=H//16
patches = xi.reshape(B_,3,g,16,g,16).transpose(0,2,4,1,3,5).reshape(B_,g*g,-1)
tok = patches @ W.reshape(W.shape[0],-1).T + b
p = g*g//2
tok = np.concatenate([tok[:,:p], np.repeat(P['cls_token'],B_,0), tok[:,p:]],1) + P['pos_embed']
L = tok.shape[1]
def direction(xx, zz, pre, suffix, bw):
    w = P[f'{pre}conv1d{suffix}.weight'][:,0]; cb = P[f'{pre}conv1d{suffix}.bias']
    E = xx.shape[-1]; K=4
    u = np.zeros_like(xx)
    for t in range(L):
        acc = cb.copy()
        for k in range(K):
            j = t-3+k if not bw else t+3-k
            if 0<=j<L: acc = acc + w[:,k]*xx[:,j]
        u[:,t]=silu(acc)
    Ak = 'A_log' if not bw else 'A_b_log'; Dk = 'D' if not bw else 'D_b'
    A = -np.exp(P[pre+Ak]); Dd = P[pre+Dk]
    xd = u @ P[f'{pre}x_proj{suffix}.weight'].T
    R = P[f'{pre}dt_proj{suffix}.weight'].shape[1]; N=A.shape[1]
    dt, Bm, Cm = xd[...,:R], xd[...,R:R+N], xd[...,R+N:]
    delta = sp(dt @ P[f'{pre}dt_proj{suffix}.weight'].T + P[f'{pre}dt_proj{suffix}.bias'])
    h = np.zeros((xx.shape[0],E,N)); y=np.zeros_like(xx)
    for t in (range(L) if not bw else range(L-1,-1,-1)):
        h = np.exp(delta[:,t,:,None]*A)*h + (delta[:,t]*u[:,t])[:,:,None]*Bm[:,t,None,:]
        y[:,t] = (h*Cm[:,t,None,:]).sum(-1) + Dd*u[:,t]
    return y
r = tok
for i in range(len(m.layers)):
    pre=f'layers.{i}.mixer.'
    hn = rms(r, P[f'layers.{i}.norm.weight'])
    xz = hn @ P[pre+'in_proj.weight'].T; E = xz.shape[-1]//2
    xx, zz = xz[...,:E], xz[...,E:]
    gz = silu(zz)
    yf = direction(xx,zz,pre,'',False); yb = direction(xx,zz,pre,'_b',True)
    r = r + ((yf*gz + yb*gz)/2) @ P[pre+'out_proj.weight'].T
f = rms(r, P['norm_f.weight'])
out = f[:,p] @ P['head.weight'].T + P['head.bias']
print('torch vs numpy spec §6:', np.abs(out-ref).max(), np.abs(ref).max())
sys.exit(0 if np.abs(out-ref).max() <= 1e-5 * np.abs(ref).max() else 1)
