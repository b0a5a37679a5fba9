"""Plain-words help: how a CNN works, the About text and the first-run tour."""
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QTextBrowser, QVBoxLayout


def with_article(digit):
    """"a 7", but "an 8"."""
    return f"an {digit}" if digit == 8 else f"a {digit}"


#: (title, HTML) pairs, in the order data flows through the network.
HOW_IT_WORKS = (
    ("Convolution",
     "<p>A convolution slides a small 3×3 window, the <b>kernel</b>, over the image. At every "
     "position it multiplies the nine pixels under it by the kernel's nine weights and adds "
     "them up. A kernel that has learnt a stroke direction gives a large number wherever the "
     "image has that stroke, so its output, a <b>feature map</b>, shows where the pattern is. "
     "Each layer has many kernels; later layers combine the earlier maps into larger patterns "
     "such as loops and corners. The Train tab shows the kernels as they change.</p>"),
    ("ReLU",
     "<p>ReLU (rectified linear unit) keeps positive numbers and turns negative ones into zero. "
     "Without such a bend, stacking layers would still only compute one linear function. "
     "A unit that is zero for every image is <b>dead</b>: it no longer learns, which the "
     "health panel reports.</p>"),
    ("Pooling",
     "<p>Max-pooling keeps the largest value of every 2×2 block, halving the width and "
     "height. The network then cares less about exactly where a stroke is, and the later "
     "layers see more of the digit at once.</p>"),
    ("Softmax",
     "<p>The last layer gives one score per digit. Softmax turns the ten scores into ten "
     "probabilities that add up to 100 %: larger scores get exponentially more of the share. "
     "The prediction bars in Draw &amp; Explain show them.</p>"),
    ("Cross-entropy",
     "<p>The loss the network learns to make small: minus the logarithm of the probability "
     "it gave to the right digit. 100 % costs nothing; 50 % costs 0.69; 1 % costs 4.6. So a "
     "confident wrong answer is punished hard.</p>"),
    ("Backpropagation",
     "<p>To learn, the network asks for every weight: if I nudge it a little, how much does "
     "the loss change? Backpropagation answers for all weights at once by going backwards "
     "through the layers with the chain rule. The optimiser then moves each weight a small "
     "step (the <b>learning rate</b>) against its gradient, batch after batch.</p>"),
    ("Grad-CAM",
     "<p>Grad-CAM shows where in the picture the network looked for its answer. It takes the "
     "feature maps of a conv layer, weights each map by how much the chosen digit's score "
     "rises when that map rises (its mean gradient), adds them up and keeps the positive "
     "part. Bright regions in the heat map are the evidence for that digit. Pin a drawing to "
     "watch its Grad-CAM change epoch by epoch while the network learns.</p>"),
)

ABOUT = ("<p><b>Explainable CNN</b>: watch a small convolutional network, written in pure "
         "NumPy, learn handwritten digits and explain itself.</p>"
         "<p>The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and "
         "Christopher J. C. Burges.</p>"
         "<p>Built with NumPy, Qt for Python (PySide6), pyqtgraph and Pillow.</p>")

TOUR = ("<b>Welcome.</b> In <b>Train</b> you set a few numbers and press Start to watch the "
        "network learn: its loss, accuracy and kernels change live. In <b>Draw &amp; "
        "Explain</b> you draw a digit and see what the network answers and where it looked. "
        "<b>Evaluate</b> shows which digits it confuses and the images it gets wrong. "
        "Help → How it works explains each step in plain words.")


class HowItWorksDialog(QDialog):
    """One tab per idea, in the order data flows through the network."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("how_it_works")
        self.setWindowTitle("How it works")
        self.tabs = QTabWidget()
        for title, html in HOW_IT_WORKS:
            page = QTextBrowser()
            page.setHtml(f"<h3>{title}</h3>{html}")
            self.tabs.addTab(page, title)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
        self.resize(780, 380)
