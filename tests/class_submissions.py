"""A class of ten varied submissions for the class report, built by swapping function bodies into the notebooks.

ada hands in the reference; ben did Parts 1 and 3 only, with a softmax that overflows; cy left the stubs; dee's notebooks
are broken (unreadable JSON, a missing notebook, a syntax error). hana wrote every answer
in a style of her own; ivan copied hana's answers and renamed every variable; jack copied
them too, renamed, reordered independent statements and reformatted. kim wrote a correct
solution of her own, differently: she must not be flagged. lee and max each did Part 3 alone,
each on their own, as the notebook's hints lead (the stable sigmoid through torch.where, the
softmax shifted by its max, tanh from sigmoid as the lecture writes it): code half the class
writes alike, which must not flag them.
"""

import re
import shutil
import textwrap
from pathlib import Path

import nbformat

from autograder.contract import ASSIGNMENT_ID, REFERENCE_DIR, RELEASE_DIR

STUB = "# YOUR CODE HERE\n{indent}raise NotImplementedError()"

# hana's answers: graded name (``Class.method`` for methods) -> the body that replaces its stub.
HANA = {
    "model": """
        out = torch.matmul(xb, weight)
        out = out + bias
        return out
    """,
    "loss_fn": """
        diff = input - target
        squared = diff * diff
        return torch.mean(squared)
    """,
    "sgd_step": """
        for param in params:
            with torch.no_grad():
                param.sub_(param.grad * learning_rate)
            param.grad.zero_()
    """,
    "train_linear_regression": """
        history = []
        n_samples = len(train_dl.dataset)
        for epoch in range(num_epochs):
            running = 0.0
            for xs, ys in train_dl:
                preds = model(xs, weight, bias)
                batch_loss = loss_fn(preds, ys)
                batch_loss.backward()
                sgd_step([weight, bias], learning_rate)
                running = running + batch_loss.item() * len(ys)
            history.append(running / n_samples)
        return history
    """,
    "train_nn_regression": """
        history = []
        n_samples = len(train_dl.dataset)
        for epoch in range(num_epochs):
            running = 0.0
            for xs, ys in train_dl:
                preds = model(xs).squeeze(1)
                batch_loss = loss_fn(preds, ys)
                batch_loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                running = running + batch_loss.item() * len(ys)
            history.append(running / n_samples)
        return history
    """,
    "Model.__init__": """
        self.layer1 = nn.Linear(in_features=input_size, out_features=hidden_size)
        self.layer2 = nn.Linear(in_features=hidden_size, out_features=output_size)
    """,
    "Model.forward": """
        hidden = self.layer1(x).sigmoid()
        logits = self.layer2(hidden)
        return logits.softmax(dim=-1)
    """,
    "train_mlp": """
        losses, accs = [], []
        n_samples = len(train_dl.dataset)
        for epoch in range(num_epochs):
            running_loss = 0.0
            running_hits = 0.0
            for xs, ys in train_dl:
                probs = model(xs)
                batch_loss = loss_fn(probs, ys)
                batch_loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                running_loss = running_loss + batch_loss.item() * len(ys)
                running_hits = running_hits + (probs.argmax(dim=1) == ys).float().sum().item()
            losses.append(running_loss / n_samples)
            accs.append(running_hits / n_samples)
        return losses, accs
    """,
    "accuracy": """
        with torch.no_grad():
            labels = model(X).argmax(dim=1)
        hits = (labels == y).sum().item()
        return hits / len(y)
    """,
    "save_model": """
        torch.save(obj=model, f=path)
    """,
    "load_model": """
        loaded = torch.load(path, weights_only=False)
        return loaded
    """,
    "save_parameters": """
        state = model.state_dict()
        torch.save(state, path)
    """,
    "load_parameters": """
        net = Model(input_size, hidden_size, output_size)
        state = torch.load(path, weights_only=True)
        net.load_state_dict(state)
        return net
    """,
    "sigmoid": """
        ez = torch.exp(-torch.abs(z))
        return torch.where(z >= 0, 1 / (1 + ez), ez / (1 + ez))
    """,
    "softmax": """
        biggest = torch.max(z, dim=dim, keepdim=True).values
        ex = torch.exp(z - biggest.detach())
        total = torch.sum(ex, dim=dim, keepdim=True)
        return ex / total
    """,
    "tanh": """
        return 2 * sigmoid(2 * z) - 1
    """,
    "relu": """
        mask = (z > 0).to(z.dtype)
        return z * mask
    """,
}

# ivan: hana's answers with every variable renamed (a find-and-replace of whole words).
IVAN_RENAMES = {
    "out": "result", "diff": "delta", "squared": "sq", "param": "tensor", "history": "epoch_losses",
    "n_samples": "total", "epoch": "e", "running": "acc_loss", "xs": "inputs", "ys": "targets",
    "preds": "y_hat", "batch_loss": "l", "hidden": "h", "logits": "scores", "losses": "loss_list",
    "accs": "acc_list", "running_loss": "sum_loss", "running_hits": "sum_correct", "probs": "p",
    "labels": "predicted", "hits": "n_right", "loaded": "m", "state": "weights", "net": "clf",
    "ez": "t", "biggest": "top", "ex": "num", "mask": "positive",
}

# jack: hana's answers, most of the long ones with new names, independent statements swapped and lines
# broken differently; the short ones as she wrote them.
JACK = {
    **HANA,
    "model": """
        prediction = torch.matmul(xb,
                                  weight)
        prediction = prediction + bias
        return prediction
    """,
    "train_linear_regression": """
        n = len(train_dl.dataset)
        hist = []
        for epoch_idx in range(num_epochs):
            epoch_total = 0.0
            for batch_x, batch_y in train_dl:
                out = model(batch_x, weight, bias)
                current = loss_fn(out, batch_y)
                current.backward()
                sgd_step([weight, bias], learning_rate)
                epoch_total = epoch_total + current.item() * len(batch_y)
            hist.append(epoch_total / n)
        return hist
    """,
    "train_nn_regression": """
        n = len(train_dl.dataset)
        hist = []
        for epoch_idx in range(num_epochs):
            epoch_total = 0.0
            for batch_x, batch_y in train_dl:
                out = model(batch_x).squeeze(1)
                current = loss_fn(out, batch_y)
                current.backward()
                optimizer.step()
                optimizer.zero_grad()
                epoch_total = epoch_total + current.item() * len(batch_y)
            hist.append(epoch_total / n)
        return hist
    """,
    "Model.forward": """
        a1 = self.layer1(x).sigmoid()
        a2 = self.layer2(a1)
        return a2.softmax(dim=-1)
    """,
    "train_mlp": """
        n = len(train_dl.dataset)
        loss_history, acc_history = [], []
        for epoch_idx in range(num_epochs):
            epoch_correct = 0.0
            epoch_total = 0.0
            for batch_x, batch_y in train_dl:
                out = model(batch_x)
                current = loss_fn(out, batch_y)
                current.backward()
                optimizer.step()
                optimizer.zero_grad()
                epoch_total = epoch_total + current.item() * len(batch_y)
                epoch_correct = epoch_correct + (out.argmax(dim=1) == batch_y).float().sum().item()
            loss_history.append(epoch_total / n)
            acc_history.append(epoch_correct / n)
        return loss_history, acc_history
    """,
    "load_parameters": """
        sd = torch.load(path, weights_only=True)
        mlp = Model(input_size, hidden_size, output_size)
        mlp.load_state_dict(sd)
        return mlp
    """,
    "softmax": """
        m = torch.max(z, dim=dim, keepdim=True).values
        exps = torch.exp(z - m.detach())
        return exps / torch.sum(exps, dim=dim, keepdim=True)
    """,
}

# kim: a correct solution of her own, written differently from hana's and from the reference.
KIM = {
    "model": """
        return (xb * weight).sum(dim=1) + bias
    """,
    "loss_fn": """
        return torch.nn.functional.mse_loss(input, target)
    """,
    "sgd_step": """
        with torch.no_grad():
            for i in range(len(params)):
                params[i].add_(params[i].grad, alpha=-learning_rate)
                params[i].grad.zero_()
    """,
    "train_linear_regression": """
        epoch_losses = []
        for epoch in range(num_epochs):
            sum_loss, count = 0.0, 0
            for features, targets in train_dl:
                size = targets.shape[0]
                l = loss_fn(model(features, weight, bias), targets)
                l.backward()
                sgd_step([weight, bias], learning_rate)
                count += size
                sum_loss += l.item() * size
            epoch_losses.append(sum_loss / count)
        return epoch_losses
    """,
    "train_nn_regression": """
        epoch_losses = []
        for epoch in range(num_epochs):
            sum_loss, count = 0.0, 0
            for features, targets in train_dl:
                output = model(features).view(-1)
                l = loss_fn(output, targets)
                l.backward()
                optimizer.step()
                optimizer.zero_grad()
                count += targets.shape[0]
                sum_loss += l.item() * targets.shape[0]
            epoch_losses.append(sum_loss / count)
        return epoch_losses
    """,
    "Model.__init__": """
        layers = [nn.Linear(input_size, hidden_size), nn.Linear(hidden_size, output_size)]
        self.layer1, self.layer2 = layers
    """,
    "Model.forward": """
        a = torch.sigmoid(self.layer1(x))
        return nn.functional.softmax(self.layer2(a), dim=1)
    """,
    "train_mlp": """
        history = {"loss": [], "acc": []}
        for epoch in range(num_epochs):
            sum_loss, right, count = 0.0, 0, 0
            for features, labels in train_dl:
                out = model(features)
                l = loss_fn(out, labels)
                l.backward()
                optimizer.step()
                optimizer.zero_grad()
                size = labels.shape[0]
                count += size
                right += int((torch.max(out, 1).indices == labels).sum())
                sum_loss += l.item() * size
            history["loss"].append(sum_loss / count)
            history["acc"].append(right / count)
        return history["loss"], history["acc"]
    """,
    "accuracy": """
        with torch.no_grad():
            predicted = torch.max(model(X), 1).indices
        return int((predicted == y).sum()) / y.numel()
    """,
    "save_model": """
        with open(path, "wb") as f:
            torch.save(model, f)
    """,
    "load_model": """
        with open(path, "rb") as f:
            return torch.load(f, weights_only=False)
    """,
    "save_parameters": """
        with open(path, "wb") as f:
            torch.save(model.state_dict(), f)
    """,
    "load_parameters": """
        m = Model(input_size, hidden_size, output_size)
        with open(path, "rb") as f:
            m.load_state_dict(torch.load(f, weights_only=True))
        return m
    """,
    "sigmoid": """
        return torch.exp(-torch.logaddexp(torch.zeros_like(z), -z))
    """,
    "softmax": """
        return torch.exp(z - torch.logsumexp(z, dim=dim, keepdim=True))
    """,
    "tanh": """
        s = sigmoid(2 * z)
        return s - (1 - s)
    """,
    "relu": """
        return torch.maximum(z, torch.zeros_like(z))
    """,
}

# Who copied whom: the pairs the class report must flag, and the student it must not.
COPIES = {("hana", "ivan"), ("hana", "jack"), ("ivan", "jack")}
INDEPENDENT = "kim"
HINT_FOLLOWERS = ("lee", "max")
# lee and max write the stable sigmoid as the notebook's hint has it, tanh as the lecture writes it and relu as
# its formula reads, as the reference does; each writes softmax in a way of their own.
HINTED = {
    "sigmoid": """
        positive = z >= 0
        e = torch.exp(torch.where(positive, -z, z))
        return torch.where(positive, 1 / (1 + e), e / (1 + e))
    """,
    "tanh": "return 2 * sigmoid(2 * z) - 1",
    "relu": "return torch.where(z > 0, z, torch.zeros_like(z))",
}
LEE = {**HINTED, "softmax": """
        exps = torch.exp(z - z.max(dim=dim, keepdim=True).values)
        return exps / torch.sum(exps, dim=dim, keepdim=True)
    """}
MAX = {**HINTED, "softmax": """
        top, _ = torch.max(z, dim, keepdim=True)
        numerators = torch.exp(z - top)
        denominator = numerators.sum(dim, keepdim=True)
        return numerators / denominator
    """}


def renamed(bodies: dict[str, str], renames: dict[str, str]) -> dict[str, str]:
    """``bodies`` with each whole word in ``renames`` replaced (longest first, so ``running_loss`` before ``running``)."""
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, renames), key=len, reverse=True)) + r")\b")
    return {name: pattern.sub(lambda match: renames[match.group(1)], body) for name, body in bodies.items()}


def stub_position(source: str, name: str) -> int:
    """Where in a cell's ``source`` the stub of ``name`` (``f`` or ``Class.method``) starts, or -1."""
    anchor = 0
    for word in name.split("."):
        keyword = "class" if word[0].isupper() else "def"
        anchor = source.find(f"{keyword} {word}(", anchor)
        if anchor < 0:
            return -1
    return source.find("# YOUR CODE HERE", anchor)


def fill_in(notebook_path: Path, bodies: dict[str, str]) -> None:
    """Replace the stub of each name in ``bodies`` that ``notebook_path`` defines with its body."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        for name, body in bodies.items():
            start = stub_position(cell.source, name)
            if start < 0:
                continue
            indent = cell.source[cell.source.rfind("\n", 0, start) + 1:start]
            stub = STUB.format(indent=indent)
            assert cell.source.startswith(stub, start), f"no stub for {name} in {notebook_path.name}"
            code = textwrap.indent(textwrap.dedent(body).strip(), indent)[len(indent):]
            cell.source = cell.source[:start] + code + cell.source[start + len(stub):]
    nbformat.write(notebook, notebook_path)


def answered(folder: Path, bodies: dict[str, str]) -> Path:
    """The released notebooks in ``folder`` with every stub replaced by its body in ``bodies``."""
    shutil.copytree(RELEASE_DIR, folder)
    for path in sorted(folder.glob("*.ipynb")):
        fill_in(path, bodies)
    return folder


def build_class(submitted: Path) -> dict[str, Path]:
    """Ten submissions in nbgrader's layout, ``submitted/<student>/pytorch_nn/``; returns each folder."""
    folders = {student: submitted / student / ASSIGNMENT_ID
               for student in ("ada", "ben", "cy", "dee", "hana", "ivan", "jack", "kim", "lee", "max")}
    shutil.copytree(REFERENCE_DIR, folders["ada"])
    shutil.copytree(RELEASE_DIR, folders["ben"])
    for notebook in ("01_linear_regression.ipynb", "03_activations.ipynb"):
        shutil.copy(REFERENCE_DIR / notebook, folders["ben"] / notebook)
    wrong = folders["ben"] / "03_activations.ipynb"  # and a softmax that overflows: no shift by the max
    wrong.write_text(wrong.read_text().replace("z - z.amax(dim=dim, keepdim=True).detach()", "z"))
    shutil.copytree(RELEASE_DIR, folders["cy"])
    shutil.copytree(RELEASE_DIR, folders["dee"])
    (folders["dee"] / "01_linear_regression.ipynb").write_text('{"cells": [')
    (folders["dee"] / "02_iris_mlp.ipynb").unlink()
    broken = folders["dee"] / "03_activations.ipynb"
    shutil.copy(REFERENCE_DIR / broken.name, broken)
    broken.write_text(broken.read_text().replace("def tanh(z", "def tanh(z))"))
    answered(folders["hana"], HANA)
    answered(folders["ivan"], renamed(HANA, IVAN_RENAMES))
    answered(folders["jack"], JACK)
    answered(folders["kim"], KIM)
    answered(folders["lee"], LEE)
    answered(folders["max"], MAX)
    return folders

