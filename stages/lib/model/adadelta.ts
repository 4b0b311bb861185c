/**
 * Adadelta (Zeiler 2012) as Keras and TensorFlow compute it, for `train.optimizer: adadelta`.
 *
 * Why not `tf.train.adadelta`: TF.js (4.22) scales the gradient by
 * √(E[Δx²] + ε) / √(E[g²] + ε) using E[g²] from *before* this step's gradient
 * is folded in. On the first step E[g²] = E[Δx²] = 0, so the update is
 * g·√ε/√ε = g: a raw gradient step times the learning rate. Keras (and the
 * paper) divide by the updated E[g²], so the first step is about
 * √(ε / (1 − ρ)) ≈ 1.4e-3 per weight and grows from there, which is why Keras'
 * Adadelta runs with lr = 1.0. With TF.js's version, lr = 1.0 is plain SGD at
 * rate 1 from the first batch: on pooled backbone features the sigmoid head
 * saturates at once, and binary cross-entropy on clipped probabilities then
 * has no gradient, so it never recovers (val accuracy 0.5).
 */
import * as tf from '@tensorflow/tfjs';

type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

interface Accumulators {
  /** E[g²]: running average of squared gradients. */
  grad: tf.Variable;
  /** E[Δx²]: running average of squared updates. */
  update: tf.Variable;
}

export class KerasAdadelta extends tf.Optimizer {
  static get className(): string {
    return 'KerasAdadelta';
  }

  private readonly accumulators = new Map<string, Accumulators>();

  /** Keras' defaults: rho 0.95, epsilon 1e-7 (Keras 2.0 used lr 1.0, its later versions 0.001). */
  constructor(
    readonly learningRate: number,
    readonly rho = 0.95,
    readonly epsilon = 1e-7,
  ) {
    super();
    if (!(Number.isFinite(learningRate) && learningRate > 0))
      throw new Error(`Adadelta learning rate must be > 0; got ${learningRate}`);
    if (!(rho >= 0 && rho < 1)) throw new Error(`Adadelta rho must be in [0, 1); got ${rho}`);
    if (!(epsilon > 0)) throw new Error(`Adadelta epsilon must be > 0; got ${epsilon}`);
  }

  applyGradients(variableGradients: VariableGradients): void {
    const pairs = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor] as const)
      : Object.entries(variableGradients);
    for (const [name, gradient] of pairs) {
      if (gradient == null) continue;
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`Adadelta: no variable named ${name}`);
      const acc = this.accumulatorsOf(name, variable);
      tf.tidy(() => {
        const gradSq = acc.grad.mul(this.rho).add(gradient.square().mul(1 - this.rho));
        // The updated E[g²] in the denominator: the difference from tf.train.adadelta.
        const update = acc.update.add(this.epsilon).sqrt().div(gradSq.add(this.epsilon).sqrt()).mul(gradient);
        const updateSq = acc.update.mul(this.rho).add(update.square().mul(1 - this.rho));
        acc.grad.assign(gradSq);
        acc.update.assign(updateSq);
        variable.assign(variable.sub(update.mul(this.learningRate)));
      });
    }
    this.incrementIterations();
  }

  override dispose(): void {
    super.dispose();
    for (const acc of this.accumulators.values()) tf.dispose([acc.grad, acc.update]);
    this.accumulators.clear();
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, rho: this.rho, epsilon: this.epsilon };
  }

  private accumulatorsOf(name: string, variable: tf.Variable): Accumulators {
    let acc = this.accumulators.get(name);
    if (!acc) {
      acc = {
        grad: tf.tidy(() => tf.zerosLike(variable).variable(false)),
        update: tf.tidy(() => tf.zerosLike(variable).variable(false)),
      };
      this.accumulators.set(name, acc);
    }
    return acc;
  }
}
