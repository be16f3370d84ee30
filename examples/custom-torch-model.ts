// A model of your own, trained with fmnist/torch: a PyTorch-style nn.Module subclass, AdamW and a cosine
// schedule, on Fashion-MNIST. Run: npx tsx examples/custom-torch-model.ts [trainImages] [epochs]
import * as torch from 'fmnist/torch';
import { loadFashionMnist } from 'fmnist';

const { nn, optim } = torch;
const F = nn.functional;

/** conv -> relu -> pool -> linear, written as a PyTorch user would. */
class SmallNet extends nn.Module {
  conv = this.registerModule('conv', new nn.Conv2d(1, 16, 3, { padding: 1 }));
  pool = this.registerModule('pool', new nn.MaxPool2d(2));
  fc = this.registerModule('fc', new nn.Linear(16 * 14 * 14, 10));
  forward(x: torch.Tensor): torch.Tensor {
    return this.fc.call(this.pool.call(this.conv.call(x).relu()).flatten(1));
  }
}

const n = Number(process.argv[2] ?? 6000);
const epochs = Number(process.argv[3] ?? 2);
torch.manualSeed(0);
const data = await loadFashionMnist({ quiet: true });
const model = new SmallNet();
const opt = new optim.AdamW(model.parameters(), { lr: 2e-3, weightDecay: 1e-2 });
const sched = new optim.CosineAnnealingLR(opt, epochs);
const x = torch.fromTypedArray(data.train.images.subarray(0, n * 784), [n, 1, 28, 28]);
const y = torch.fromTypedArray(data.train.labels.subarray(0, n), [n], 'int64');

for (let epoch = 1; epoch <= epochs; epoch++) {
  model.train();
  let loss = 0;
  for (let i = 0; i < n; i += 64) {
    const len = Math.min(64, n - i);
    loss += torch.tidy(() => {
      opt.zeroGrad();
      const l = F.crossEntropy(model.call(x.narrow(0, i, len)), y.narrow(0, i, len));
      l.backward();
      opt.step();
      return l.item() * len;
    });
  }
  sched.step();
  console.log(`epoch ${epoch}: train loss ${(loss / n).toFixed(4)}`);
}

model.eval();
const m = 2000;
const acc = torch.noGrad(() =>
  torch.tidy(() => {
    const xt = torch.fromTypedArray(data.test.images.subarray(0, m * 784), [m, 1, 28, 28]);
    const yt = torch.fromTypedArray(data.test.labels.subarray(0, m), [m], 'int64');
    return model.call(xt).argmax(1).eq(yt).sum().item() / m;
  }),
);
console.log(`test accuracy on ${m} images: ${acc.toFixed(4)}`);
x.dispose();
y.dispose();
model.dispose();
