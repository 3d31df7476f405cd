"""Weights shared in their authors' layouts load without an architecture hint and give the
upstream network's output. Each upstream network is rebuilt here from its published
definition (module names and forward pass), initialised at random and saved as its
authors save it; napari-sr's model must match its forward pass to 1e-4."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from napari_sr import load_model  # noqa: E402
from napari_sr.models.checkpoint import CheckpointError  # noqa: E402

# ---------------------------------------------- BasicSR's RRDBNet (basicsr/archs/rrdbnet_arch.py)


class _UpstreamDenseBlock(nn.Module):
    def __init__(self, feat: int, grow: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(feat, grow, 3, 1, 1)
        self.conv2 = nn.Conv2d(feat + grow, grow, 3, 1, 1)
        self.conv3 = nn.Conv2d(feat + 2 * grow, grow, 3, 1, 1)
        self.conv4 = nn.Conv2d(feat + 3 * grow, grow, 3, 1, 1)
        self.conv5 = nn.Conv2d(feat + 4 * grow, feat, 3, 1, 1)

    def forward(self, x):
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        x1 = act(self.conv1(x))
        x2 = act(self.conv2(torch.cat((x, x1), 1)))
        x3 = act(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = act(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class _UpstreamRRDB(nn.Module):
    def __init__(self, feat: int, grow: int) -> None:
        super().__init__()
        self.rdb1 = _UpstreamDenseBlock(feat, grow)
        self.rdb2 = _UpstreamDenseBlock(feat, grow)
        self.rdb3 = _UpstreamDenseBlock(feat, grow)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


def _unshuffle(x, r: int):
    b, c, h, w = x.shape
    return x.view(b, c, h // r, r, w // r, r).permute(0, 1, 3, 5, 2, 4).reshape(
        b, c * r * r, h // r, w // r)  # fmt: skip


class _UpstreamRRDBNet(nn.Module):
    def __init__(self, channels: int, scale: int, feat: int, blocks: int, grow: int) -> None:
        super().__init__()
        self.scale = scale
        factor = {4: 1, 2: 4, 1: 16}[scale]
        self.conv_first = nn.Conv2d(channels * factor, feat, 3, 1, 1)
        self.body = nn.Sequential(*(_UpstreamRRDB(feat, grow) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(feat, channels, 3, 1, 1)

    def forward(self, x):
        feat = {4: x, 2: None, 1: None}[self.scale]
        if self.scale == 2:
            feat = _unshuffle(x, 2)
        elif self.scale == 1:
            feat = _unshuffle(x, 4)
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")),
                            0.2)  # fmt: skip
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")),
                            0.2)  # fmt: skip
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))


def _randomised(module: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return module.eval()


@pytest.mark.parametrize(("scale", "channels", "nest"), [(4, 3, "params_ema"), (2, 3, "params"),
                                                          (4, 1, None)])  # fmt: skip
def test_basicsr_rrdbnet_loads_without_hints_and_matches(tmp_path, scale, channels, nest):
    upstream = _randomised(_UpstreamRRDBNet(channels, scale, feat=8, blocks=2, grow=4), seed=1)
    state = upstream.state_dict()
    path = tmp_path / f"RealESRGAN_x{scale}plus.pth"
    torch.save({nest: state} if nest else state, path)
    model = load_model(path)  # no architecture, scale or channels
    assert model.spec.name == "rrdbnet" and model.scale == scale
    assert model.in_channels == channels
    x = torch.rand(1, channels, 12, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = upstream(x)
        got = model(x)
    assert got.shape == expected.shape == (1, channels, 12 * scale, 16 * scale)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def test_hints_that_contradict_the_file_are_refused(tmp_path):
    upstream = _UpstreamRRDBNet(3, 4, feat=8, blocks=1, grow=4)
    torch.save({"params_ema": upstream.state_dict()}, tmp_path / "esrgan.pth")
    with pytest.raises(CheckpointError, match=r"BasicSR RRDBNet .* scale=2 \(the file: 4\)"):
        load_model(tmp_path / "esrgan.pth", scale=2)
    model = load_model(tmp_path / "esrgan.pth", architecture="rrdbnet", scale=4)  # agreeing
    assert model.scale == 4


# ------------------------------- EDSR-PyTorch's EDSR and RCAN (src/model/{common,edsr,rcan}.py)

MEAN = (0.4488, 0.4371, 0.4040)


class _MeanShift(nn.Conv2d):
    def __init__(self, sign: int) -> None:
        super().__init__(3, 3, kernel_size=1)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1)
        self.bias.data = sign * 255 * torch.tensor(MEAN)
        self.requires_grad_(False)


def _conv(cin: int, cout: int, size: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, size, padding=size // 2)


def _upsampler(scale: int, feat: int) -> nn.Sequential:
    layers = []
    if scale & (scale - 1) == 0:
        for _ in range(scale.bit_length() - 1):
            layers += [_conv(feat, 4 * feat), nn.PixelShuffle(2)]
    else:
        layers += [_conv(feat, 9 * feat), nn.PixelShuffle(3)]
    return nn.Sequential(*layers)


class _ResBlock(nn.Module):
    def __init__(self, feat: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(feat, feat), nn.ReLU(True), _conv(feat, feat))
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x).mul(self.res_scale) + x


class _UpstreamEDSR(nn.Module):
    def __init__(self, scale: int, feat: int, blocks: int, res_scale: float) -> None:
        super().__init__()
        self.sub_mean, self.add_mean = _MeanShift(-1), _MeanShift(1)
        self.head = nn.Sequential(_conv(3, feat))
        self.body = nn.Sequential(*(_ResBlock(feat, res_scale) for _ in range(blocks)),
                                  _conv(feat, feat))  # fmt: skip
        self.tail = nn.Sequential(_upsampler(scale, feat), _conv(feat, 3))

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        return self.add_mean(self.tail(self.body(x) + x))


class _CALayer(nn.Module):
    def __init__(self, feat: int, reduction: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        squeezed = feat // reduction
        self.conv_du = nn.Sequential(nn.Conv2d(feat, squeezed, 1), nn.ReLU(True),
                                     nn.Conv2d(squeezed, feat, 1), nn.Sigmoid())  # fmt: skip

    def forward(self, x):
        return x * self.conv_du(self.avg_pool(x))


class _RCAB(nn.Module):
    def __init__(self, feat: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(feat, feat), nn.ReLU(True), _conv(feat, feat),
                                  _CALayer(feat, reduction))  # fmt: skip

    def forward(self, x):
        return self.body(x) + x


class _Group(nn.Module):
    def __init__(self, feat: int, reduction: int, blocks: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*(_RCAB(feat, reduction) for _ in range(blocks)),
                                  _conv(feat, feat))  # fmt: skip

    def forward(self, x):
        return self.body(x) + x


class _UpstreamRCAN(nn.Module):
    def __init__(self, scale: int, feat: int, groups: int, blocks: int, reduction: int):
        super().__init__()
        self.sub_mean, self.add_mean = _MeanShift(-1), _MeanShift(1)
        self.head = nn.Sequential(_conv(3, feat))
        self.body = nn.Sequential(*(_Group(feat, reduction, blocks) for _ in range(groups)),
                                  _conv(feat, feat))  # fmt: skip
        self.tail = nn.Sequential(_upsampler(scale, feat), _conv(feat, 3))

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        return self.add_mean(self.tail(self.body(x) + x))


def _randomised_trainable(module: nn.Module, seed: int) -> nn.Module:
    """Random weights for the trained layers; the mean shifts stay as upstream makes them."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if not name.startswith(("sub_mean", "add_mean")):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return module.eval()


@pytest.mark.parametrize(
    ("make", "architecture", "scale"),
    [(lambda s: _UpstreamEDSR(s, feat=8, blocks=2, res_scale=1.0), "edsr", 2),
     (lambda s: _UpstreamEDSR(s, feat=8, blocks=2, res_scale=1.0), "edsr", 3),
     (lambda s: _UpstreamRCAN(s, feat=16, groups=2, blocks=2, reduction=4), "rcan", 4)],
)  # fmt: skip
def test_edsr_pytorch_weights_load_without_hints_and_match(tmp_path, make, architecture, scale):
    upstream = _randomised_trainable(make(scale), seed=3)
    path = tmp_path / f"{architecture}_x{scale}.pt"
    torch.save(upstream.state_dict(), path)
    model = load_model(path)
    assert model.spec.name == architecture and model.scale == scale and model.in_channels == 3
    x = torch.rand(1, 3, 10, 14, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = upstream(x * 255) / 255  # EDSR-PyTorch works on values in [0, 255]
        got = model(x)
    assert got.shape == expected.shape == (1, 3, 10 * scale, 14 * scale)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


# --------------------------------------- the authors' SwinIR (models/network_swinir.py, SR)


def _windows(x, w):
    b, h, wd, c = x.shape
    x = x.view(b, h // w, w, wd // w, w, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, w, w, c)


def _unwindows(windows, w, h, wd):
    b = int(windows.shape[0] / (h * wd / w / w))
    x = windows.view(b, h // w, wd // w, w, w, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, wd, -1)


class _WindowAttention(nn.Module):
    def __init__(self, dim, w, heads):
        super().__init__()
        self.w, self.heads, self.scale = w, heads, (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * w - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij"))
        flat = torch.flatten(coords, 1)
        rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
        rel[:, :, 0] += w - 1
        rel[:, :, 1] += w - 1
        rel[:, :, 0] *= 2 * w - 1
        self.register_buffer("relative_position_index", rel.sum(-1))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b // nw, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


def _mask(h, wd, w, shift):
    img = torch.zeros((1, h, wd, 1))
    spans = (slice(0, -w), slice(-w, -shift), slice(-shift, None))
    count = 0
    for hs in spans:
        for ws in spans:
            img[:, hs, ws, :] = count
            count += 1
    windows = _windows(img, w).view(-1, w * w)
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class _SwinBlock(nn.Module):
    def __init__(self, dim, size, heads, w, shift, ratio):
        super().__init__()
        self.w, self.shift = w, shift
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = _WindowAttention(dim, w, heads)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = (
            nn.Linear(dim, int(dim * ratio)),
            nn.Linear(int(dim * ratio), dim),
        )
        self.register_buffer("attn_mask", _mask(*size, w, shift) if shift else None)

    def forward(self, x, size):
        h, wd = size
        b, _, c = x.shape
        shortcut = x
        x = self.norm1(x).view(b, h, wd, c)
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))
        windows = _windows(x, self.w).view(-1, self.w * self.w, c)
        mask = _mask(h, wd, self.w, self.shift) if self.shift else None
        out = self.attn(windows, mask).view(-1, self.w, self.w, c)
        x = _unwindows(out, self.w, h, wd)
        if self.shift:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = shortcut + x.view(b, h * wd, c)
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class _RSTB(nn.Module):
    def __init__(self, dim, size, depth, heads, w, ratio):
        super().__init__()
        self.residual_group = nn.Module()
        self.residual_group.blocks = nn.ModuleList(
            _SwinBlock(dim, size, heads, w, 0 if i % 2 == 0 else w // 2, ratio)
            for i in range(depth)
        )
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1)

    def forward(self, x, size):
        out = x
        for block in self.residual_group.blocks:
            out = block(out, size)
        b, _n, c = out.shape
        image = out.transpose(1, 2).view(b, c, *size)
        return self.conv(image).flatten(2).transpose(1, 2) + x


class _UpstreamSwinIR(nn.Module):
    def __init__(self, scale, size, dim=12, depths=(2, 2), heads=(2, 3), w=4, ratio=2.0,
                 upsampler="pixelshuffle", feat=8):  # fmt: skip
        super().__init__()
        self.mean = torch.tensor((0.4488, 0.4371, 0.4040)).view(1, 3, 1, 1)
        self.upsampler, self.w = upsampler, w
        self.conv_first = nn.Conv2d(3, dim, 3, 1, 1)
        self.patch_embed = nn.Module()
        self.patch_embed.norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(
            _RSTB(dim, size, d, h, w, ratio) for d, h in zip(depths, heads, strict=False)
        )
        self.norm = nn.LayerNorm(dim)
        self.conv_after_body = nn.Conv2d(dim, dim, 3, 1, 1)
        if upsampler == "pixelshuffle":
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(dim, feat, 3, 1, 1),
                                                      nn.LeakyReLU(inplace=True))  # fmt: skip
            self.upsample = nn.Sequential(_upsampler(scale, feat))[0]
            self.conv_last = nn.Conv2d(feat, 3, 3, 1, 1)
        elif upsampler == "nearest+conv":  # real-world SR, as the authors' ×2/×4 files
            self.scale = scale
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(dim, feat, 3, 1, 1),
                                                      nn.LeakyReLU(inplace=True))  # fmt: skip
            self.conv_up1 = nn.Conv2d(feat, feat, 3, 1, 1)
            if scale == 4:
                self.conv_up2 = nn.Conv2d(feat, feat, 3, 1, 1)
            self.conv_hr = nn.Conv2d(feat, feat, 3, 1, 1)
            self.conv_last = nn.Conv2d(feat, 3, 3, 1, 1)
            self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        else:
            self.upsample = nn.Sequential(nn.Conv2d(dim, 3 * scale * scale, 3, 1, 1),
                                          nn.PixelShuffle(scale))  # fmt: skip

    def forward(self, x):
        x = x - self.mean
        x = self.conv_first(x)
        b, c, h, wd = x.shape
        tokens = self.patch_embed.norm(x.flatten(2).transpose(1, 2))
        for layer in self.layers:
            tokens = layer(tokens, (h, wd))
        deep = self.norm(tokens).transpose(1, 2).view(b, c, h, wd)
        x = self.conv_after_body(deep) + x
        if self.upsampler == "pixelshuffle":
            x = self.conv_last(self.upsample(self.conv_before_upsample(x)))
        elif self.upsampler == "nearest+conv":
            x = self.conv_before_upsample(x)
            x = self.lrelu(self.conv_up1(F.interpolate(x, scale_factor=2, mode="nearest")))
            if self.scale == 4:
                x = self.lrelu(self.conv_up2(F.interpolate(x, scale_factor=2, mode="nearest")))
            x = self.conv_last(self.lrelu(self.conv_hr(x)))
        else:
            x = self.upsample(x)
        return x + self.mean


@pytest.mark.parametrize(("scale", "upsampler"), [(2, "pixelshuffle"), (4, "pixelshuffle"),
                                                   (3, "pixelshuffledirect"), (2, "nearest+conv"),
                                                   (4, "nearest+conv")])  # fmt: skip
def test_swinir_weights_load_without_hints_and_match(tmp_path, scale, upsampler):
    upstream = _randomised(_UpstreamSwinIR(scale, (8, 12), upsampler=upsampler), seed=5)
    state = upstream.state_dict()
    assert any(k.endswith("relative_position_index") for k in state)
    assert any(k.endswith("attn_mask") for k in state)  # saved as the authors' files are
    torch.save({"params": state}, tmp_path / "swinir.pth")
    model = load_model(tmp_path / "swinir.pth")
    assert model.spec.name == "swinir" and model.scale == scale
    x = torch.rand(1, 3, 8, 12, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected, got = upstream(x), model(x)
    assert got.shape == expected.shape == (1, 3, 8 * scale, 12 * scale)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


# ---------------------------------- Real-ESRGAN's SRVGGNetCompact (realesrgan/archs/srvgg_arch.py)


class _UpstreamSRVGG(nn.Module):
    def __init__(self, num_in_ch=3, num_feat=16, num_conv=4, upscale=4):
        super().__init__()
        self.upscale = upscale
        self.body = nn.ModuleList([nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.PReLU(num_feat)])
        for _ in range(num_conv):
            self.body.extend([nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_feat)])
        self.body.append(nn.Conv2d(num_feat, num_in_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


@pytest.mark.parametrize(("scale", "convs", "channels"), [(4, 4, 3), (2, 3, 1)])
def test_real_esrgan_compact_weights_load_without_hints_and_match(tmp_path, scale, convs,
                                                                  channels):  # fmt: skip
    upstream = _randomised(_UpstreamSRVGG(channels, 16, convs, scale), seed=7)
    torch.save({"params": upstream.state_dict()}, tmp_path / "realesr-general.pth")
    model = load_model(tmp_path / "realesr-general.pth")
    assert model.spec.name == "srvgg" and (model.scale, model.in_channels) == (scale, channels)
    assert model.hparams["convs"] == convs
    x = torch.rand(2, channels, 9, 7, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        torch.testing.assert_close(model(x), upstream(x), atol=1e-4, rtol=0)


def test_the_compact_model_has_the_released_parameter_count():
    import napari_sr

    # realesr-general-x4v3: 64 features, 32 convolutions, x4, RGB (the authors' file)
    model = napari_sr.create_model("srvgg", scale=4, in_channels=3, convs=32)
    assert sum(p.numel() for p in model.parameters()) == 1_213_296


# ---------------------------------------------- the authors' CARN (nmhkahn/CARN-pytorch, carn)


class _UpstreamMeanShift(nn.Module):
    def __init__(self, mean, sub):
        super().__init__()
        sign = -1 if sub else 1
        self.shifter = nn.Conv2d(3, 3, 1, 1, 0)
        self.shifter.weight.data = torch.eye(3).view(3, 3, 1, 1)
        self.shifter.bias.data = torch.tensor([m * sign for m in mean])

    def forward(self, x):
        return self.shifter(x)


class _UpstreamBasic(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 1, 1, 0), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.body(x)


class _UpstreamResidual(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(f, f, 3, 1, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(f, f, 3, 1, 1))  # fmt: skip

    def forward(self, x):
        return F.relu(self.body(x) + x)


class _UpstreamCarnBlock(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.b1, self.b2, self.b3 = (_UpstreamResidual(f) for _ in range(3))
        self.c1, self.c2, self.c3 = (_UpstreamBasic(f * k, f) for k in (2, 3, 4))

    def forward(self, x):
        c0 = o0 = x
        c1 = torch.cat([c0, self.b1(o0)], 1)
        o1 = self.c1(c1)
        c2 = torch.cat([c1, self.b2(o1)], 1)
        o2 = self.c2(c2)
        c3 = torch.cat([c2, self.b3(o2)], 1)
        return self.c3(c3)


def _upstream_carn_upsampler(f, scale):
    stages = [2] * (scale // 2) if scale in (2, 4) else [3]
    layers = []
    for s in stages:
        layers += [nn.Conv2d(f, s * s * f, 3, 1, 1), nn.ReLU(inplace=True), nn.PixelShuffle(s)]
    block = nn.Module()
    block.body = nn.Sequential(*layers)
    return block


class _UpstreamCARN(nn.Module):
    def __init__(self, f=8, scale=4, multi_scale=False):
        super().__init__()
        mean = (0.4488, 0.4371, 0.4040)
        self.sub_mean, self.add_mean = (
            _UpstreamMeanShift(mean, True),
            _UpstreamMeanShift(mean, False),
        )
        self.entry = nn.Conv2d(3, f, 3, 1, 1)
        self.b1, self.b2, self.b3 = (_UpstreamCarnBlock(f) for _ in range(3))
        self.c1, self.c2, self.c3 = (_UpstreamBasic(f * k, f) for k in (2, 3, 4))
        self.upsample = nn.Module()
        if multi_scale:
            for s in (2, 3, 4):
                setattr(self.upsample, f"up{s}", _upstream_carn_upsampler(f, s))
        else:
            self.upsample.up = _upstream_carn_upsampler(f, scale)
        self.exit = nn.Conv2d(f, 3, 3, 1, 1)

    def forward(self, x, scale):
        x = self.entry(self.sub_mean(x))
        c0 = o0 = x
        c1 = torch.cat([c0, self.b1(o0)], 1)
        o1 = self.c1(c1)
        c2 = torch.cat([c1, self.b2(o1)], 1)
        o2 = self.c2(c2)
        c3 = torch.cat([c2, self.b3(o2)], 1)
        o3 = self.c3(c3)
        up = getattr(self.upsample, "up", None) or getattr(self.upsample, f"up{scale}")
        return self.add_mean(self.exit(up.body(o3)))


@pytest.mark.parametrize(("scale", "multi_scale"), [(4, False), (3, True), (2, True)])
def test_carn_weights_load_and_match(tmp_path, scale, multi_scale):
    upstream = _randomised_trainable(_UpstreamCARN(8, scale, multi_scale), seed=9)
    torch.save(upstream.state_dict(), tmp_path / "carn.pth")
    hint = {"scale": scale} if multi_scale else {}
    model = load_model(tmp_path / "carn.pth", **hint)
    assert model.spec.name == "carn" and model.scale == scale
    x = torch.rand(1, 3, 10, 9, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        torch.testing.assert_close(model(x), upstream(x, scale), atol=1e-4, rtol=0)


def test_a_multi_scale_carn_asks_for_the_scale(tmp_path):
    torch.save(_UpstreamCARN(8, multi_scale=True).state_dict(), tmp_path / "carn.pth")
    with pytest.raises(CheckpointError, match=r"holds ×2, ×3, ×4 upsamplers: pass scale="):
        load_model(tmp_path / "carn.pth")
    with pytest.raises(CheckpointError, match="not ×8"):
        load_model(tmp_path / "carn.pth", scale=8)
