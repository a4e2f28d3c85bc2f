package org.gptjvm.engine;

import org.gptjvm.engine.ref.RefKernels;

/**
 * Independent, direct double-precision versions of every kernel, written from the definitions (as
 * PyTorch computes them) rather than from {@link RefKernels}. Only the dropout mask itself is taken
 * from {@link DropoutMask#uniform}, since which elements are dropped is defined by it.
 */
final class NaiveKernels {

    static final double LN_EPS = 1e-5;

    private NaiveKernels() {
    }

    /** out[b,t,c] = wte[idx[b,t], c] + wpe[t, c]. */
    static double[] encoder(int[] idx, double[] wte, double[] wpe, int B, int T, int C) {
        double[] out = new double[B * T * C];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                int token = idx[b * T + t];
                for (int c = 0; c < C; c++) {
                    out[(b * T + t) * C + c] = wte[token * C + c] + (wpe == null ? 0.0 : wpe[t * C + c]);
                }
            }
        }
        return out;
    }

    record LayerNorm(double[] out, double[] mean, double[] rstd) {
    }

    /** y = (x - mean) / sqrt(var + eps) * w + b over the last dimension, biased variance. */
    static LayerNorm layerNorm(double[] x, double[] w, double[] bias, int N, int C) {
        double[] out = new double[N * C], mean = new double[N], rstd = new double[N];
        for (int n = 0; n < N; n++) {
            double mu = 0;
            for (int c = 0; c < C; c++) {
                mu += x[n * C + c];
            }
            mu /= C;
            double var = 0;
            for (int c = 0; c < C; c++) {
                double d = x[n * C + c] - mu;
                var += d * d;
            }
            var /= C;
            double s = 1.0 / Math.sqrt(var + LN_EPS);
            for (int c = 0; c < C; c++) {
                out[n * C + c] = (x[n * C + c] - mu) * s * w[c] + bias[c];
            }
            mean[n] = mu;
            rstd[n] = s;
        }
        return new LayerNorm(out, mean, rstd);
    }

    /** out(N,OC) = x(N,C) @ w(OC,C)^T + bias. */
    static double[] matmul(double[] x, double[] w, double[] bias, int N, int C, int OC) {
        double[] out = new double[N * OC];
        for (int n = 0; n < N; n++) {
            for (int o = 0; o < OC; o++) {
                double s = bias == null ? 0 : bias[o];
                for (int c = 0; c < C; c++) {
                    s += x[n * C + c] * w[o * C + c];
                }
                out[n * OC + o] = s;
            }
        }
        return out;
    }

    record Attention(double[] out, double[] att) {
    }

    /** The inverted-dropout factor of element {@code index}: 0 when dropped, 1/(1-p) when kept. */
    static double dropScale(long seed, int salt, int index, float p) {
        if (p == 0f) {
            return 1.0;
        }
        return DropoutMask.uniform(seed, salt, index) < p ? 0.0 : 1.0 / (1.0 - p);
    }

    /**
     * Causal self-attention: att = softmax(q k^T / sqrt(hs) masked to t2 <= t) (stored before
     * dropout), out = dropout(att) @ v, heads concatenated. The dropout index of att[b,h,t,t2] is its
     * flat position in the (B,NH,T,T) tensor.
     */
    static Attention attention(double[] qkv, int B, int T, int C, int NH, long seed, float p, int salt) {
        int hs = C / NH;
        double scale = 1.0 / Math.sqrt(hs);
        double[] out = new double[B * T * C];
        double[] att = new double[B * NH * T * T];
        double[] scores = new double[T];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < NH; h++) {
                for (int t = 0; t < T; t++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int t2 = 0; t2 <= t; t2++) {
                        double s = 0;
                        for (int i = 0; i < hs; i++) {
                            double q = qkv[(b * T + t) * 3 * C + h * hs + i];
                            double k = qkv[(b * T + t2) * 3 * C + C + h * hs + i];
                            s += q * k;
                        }
                        scores[t2] = s * scale;
                        max = Math.max(max, scores[t2]);
                    }
                    double z = 0;
                    for (int t2 = 0; t2 <= t; t2++) {
                        z += Math.exp(scores[t2] - max);
                    }
                    int row = ((b * NH + h) * T + t) * T;
                    for (int t2 = 0; t2 <= t; t2++) {
                        att[row + t2] = Math.exp(scores[t2] - max) / z;
                    }
                    for (int i = 0; i < hs; i++) {
                        double s = 0;
                        for (int t2 = 0; t2 <= t; t2++) {
                            double v = qkv[(b * T + t2) * 3 * C + 2 * C + h * hs + i];
                            s += att[row + t2] * dropScale(seed, salt, row + t2, p) * v;
                        }
                        out[(b * T + t) * C + h * hs + i] = s;
                    }
                }
            }
        }
        return new Attention(out, att);
    }

    static double[] relu(double[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = Math.max(0.0, x[i]);
        }
        return out;
    }

    static double[] residual(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    static double[] dropout(double[] x, long seed, float p, int salt) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * dropScale(seed, salt, i, p);
        }
        return out;
    }

    record CrossEntropy(double[] probs, double[] losses) {
    }

    /** probs = softmax(logits) row-wise, losses[n] = -log probs[n, target[n]] (log-sum-exp form). */
    static CrossEntropy crossEntropy(double[] logits, int[] targets, int N, int V) {
        double[] probs = new double[N * V], losses = new double[N];
        for (int n = 0; n < N; n++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) {
                max = Math.max(max, logits[n * V + v]);
            }
            double z = 0;
            for (int v = 0; v < V; v++) {
                z += Math.exp(logits[n * V + v] - max);
            }
            for (int v = 0; v < V; v++) {
                probs[n * V + v] = Math.exp(logits[n * V + v] - max) / z;
            }
            losses[n] = Math.log(z) + max - logits[n * V + targets[n]];
        }
        return new CrossEntropy(probs, losses);
    }

    static double mean(double[] x) {
        double s = 0;
        for (double v : x) {
            s += v;
        }
        return s / x.length;
    }

    /**
     * One torch.optim.AdamW step (step is 1-based), in place, written as the textbook algorithm:
     * decoupled decay p *= 1 - lr*wd, moments, bias-corrected m_hat / (sqrt(v_hat) + eps).
     */
    static void adamw(double[] p, double[] g, double[] m, double[] v, double lr, double beta1, double beta2,
                      double eps, double wd, int step) {
        for (int i = 0; i < p.length; i++) {
            p[i] *= 1 - lr * wd;
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            double mHat = m[i] / (1 - Math.pow(beta1, step));
            double vHat = v[i] / (1 - Math.pow(beta2, step));
            p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
        }
    }
}
